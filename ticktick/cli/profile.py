"""``--profile NAME`` (settings from a profile, remembered by ``login``) and ``status --all``.

Imported only when a profile is named (``--profile`` or ``TICKTICK_PROFILE``) or
``status --all`` is asked for; ``token --profile NAME`` comes here on its fast path
(docs/architecture.md).
"""

from __future__ import annotations

import os
import sys

from ..errors import ConfigurationError, TickTickError
from ..profiles import (
    PROFILE_VARIABLE,
    Profile,
    ProfilesFile,
    check_profile_name,
    named_by_variable,
)
from ..token import API_TOKEN_KIND
from . import _host, _nonempty, _redirect_uri, _redis_url, _scope, _sentence, _store_name
from .output import UsageError, _show

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Callable

    from .output import Options

# Each setting of a profile: (the attribute it fills, the check of its flag).
_SETTINGS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("client_id", "client_id", _nonempty),
    ("redirect_uri", "redirect_uri", _redirect_uri),
    ("redirect_uri", "redirect_uri_given", _redirect_uri),  # doctor's
    ("host", "host", _host),
    ("scope", "scope", _scope),
    ("store", "store", _store_name),
    ("cache_path", "cache_path", _nonempty),
    ("redis_url", "redis_url", _redis_url),
)


def _profile_name(text: str) -> str:
    """A profile name, as ``--profile`` and ``TICKTICK_PROFILE`` take it."""
    try:
        return check_profile_name(text)
    except ConfigurationError:
        raise ValueError(
            "is not a profile name: 1 to 64 letters, digits, '-', '_' and '.', "
            "not starting with '.'"
        ) from None


def _named_profile(args: Options) -> str | None:
    """The profile this command uses: ``--profile``, else ``TICKTICK_PROFILE``, else none."""
    name: str | None = getattr(args, "profile", None)
    if name is not None:
        return name
    text = os.environ.get(PROFILE_VARIABLE)
    if not text:
        return None
    try:
        return _profile_name(text)
    except ValueError as exc:
        problem = _sentence(
            f"The environment variable {PROFILE_VARIABLE} (the default of --profile) {exc}"
        )
        raise UsageError(f"{problem} Fix or unset {PROFILE_VARIABLE}, or pass --profile.") from None


def _use_default_profile(args: Options) -> None:
    """Make ``login`` with nothing to select an app use the default profile, if there is one.

    The default is the first profile saved. Without a profiles file (or with one that
    cannot be read, which ``login --profile`` reports) nothing changes: ``login`` asks
    for the app's settings, as before profiles.
    """
    profiles = ProfilesFile()
    try:
        name = profiles.load().get("default")
    except TickTickError:
        return
    if isinstance(name, str) and profiles.get_or_none(name) is not None:
        args.profile = name
        _show(
            f"Using the profile {name!r}, the default in {profiles.path} (--profile NAME "
            "chooses another; --client-id signs on without a profile).",
            file=sys.stderr,
        )


def _apply_profile(args: Options, name: str) -> None:
    """Fill each setting not given by a flag from the profile *name*.

    Flags win; then the profile; then the ``TICKTICK_*`` variables (`_apply_environment`).
    ``login`` with an app's flags (``--client-id``, ``--redirect-uri``) turns a profile
    that kept a personal API token into that app's.
    ``login`` may name a profile that does not exist yet (it creates it); any other
    command fails, listing the known profiles. A profile's token file is its own
    (``<config folder>/<name>.token-oauth``), whatever ``TICKTICK_CACHE_PATH`` says.
    """
    profiles = ProfilesFile()
    from_variable = getattr(args, "profile", None) is None  # TICKTICK_PROFILE named it
    try:
        profile = profiles.get_or_none(name) if args.command == "login" else profiles.get(name)
    except ConfigurationError as exc:
        if args.command != "login":
            said = f"{exc} {named_by_variable('pass --profile')}" if from_variable else str(exc)
            raise UsageError(said) from None
        _show(
            f"The profiles file {profiles.path} is not valid: once signed on, this login "
            "moves it aside and starts a new one.",
            file=sys.stderr,
        )
        profile = None
    args.profile = name
    app_flags = args.command == "login" and any(
        getattr(args, flag, None) is not None for flag in ("client_id", "redirect_uri")
    )
    if profile is not None and profile.kind == API_TOKEN_KIND and not app_flags:
        args.api_token = True  # the profile keeps a personal API token, not an app's
    if profile is not None:
        for setting, attribute, check in _SETTINGS:
            value = getattr(profile, setting)
            if value is None or getattr(args, attribute, "") is not None:
                continue  # not in the profile, or given by a flag (or not this command's)
            try:
                setattr(args, attribute, check(value))
            except ValueError as exc:
                raise UsageError(
                    _sentence(f"The {setting} of the profile {name!r} in {profiles.path} {exc}")
                    + f" Run 'ticktick-auth login --profile {name}' with the right value."
                ) from None
    if getattr(args, "cache_path", "") is None:
        args.cache_path = profiles.token_path(name)


def _remember(args: Options, client_id: str | None, redirect_uri: str | None) -> str:
    """Save the settings ``login`` used as the profile ``args.profile``; say so in one line.

    A personal API token's profile (``login --api-token``) has no app: no client id,
    no redirect URI, no scope.
    """
    profiles = ProfilesFile()
    store = args.store or "file"
    api_token = getattr(args, "api_token", False)
    settings = {
        "kind": API_TOKEN_KIND if api_token else None,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "host": args.host,
        "scope": None if api_token else args.scope,
        "store": store,
        "cache_path": os.path.abspath(args.cache_path) if store == "file" else None,
        "redis_url": args.redis_url if store == "redis" else None,
    }
    profiles.save(Profile(args.profile, settings))
    return (
        f"Remembered the settings of the profile {args.profile!r} in {profiles.path} "
        "(never the client secret)."
    )


def _keyring_secret(args: Options, client_id: str) -> str | None:
    """The profile's client secret from the keyring, when ``TICKTICK_CLIENT_SECRET`` is unset."""
    if getattr(args, "profile", None) is None or os.environ.get("TICKTICK_CLIENT_SECRET"):
        return None
    from ..profiles import client_secret_from_keyring

    return client_secret_from_keyring(client_id)


def _cmd_status_all(args: Options) -> int:
    """``status --all``: one line per profile with its host, source and days left."""
    import types

    from ..resolution import where
    from ..token import DEFAULT_EXPIRY_MARGIN, is_expired
    from . import _apply_environment
    from .commands import _days_left, _find
    from .output import EXIT_EXPIRING, EXIT_FAILURE, EXIT_OK, _plain, _show

    profiles = ProfilesFile()
    names = profiles.names()
    if not names:
        _show(f"No profiles in {profiles.path}.")
        _show("Create one with 'ticktick-auth login --profile NAME' (with the app's settings).")
        return EXIT_FAILURE
    rows = [("profile", "host", "days left", "source")]
    code = EXIT_OK
    for name in names:
        one = types.SimpleNamespace(
            host=None,
            cache_path=None,
            env_key=args.env_key,
            client_id=None,
            scope=None,
            store=None,
            redis_url=None,
            command="status",
            profile=name,
        )
        try:
            _apply_environment(one)
            found = _find(one)
        except TickTickError as exc:  # this profile's problem: the others are still listed
            rows.append((name, "?", "unusable", _plain(str(exc))))
            code = EXIT_FAILURE
            continue
        token = found.token
        source = found.source
        if token is None and found.expired:
            source, token = found.expired[-1]
        if token is None or source is None:
            days, shown, code = "no token", "none", EXIT_FAILURE
        else:
            left = _days_left(token)
            shown = where(source)
            if left is None:
                days = "unknown"
            elif is_expired(token, DEFAULT_EXPIRY_MARGIN):
                days, code = "EXPIRED", EXIT_FAILURE
            else:
                days = f"{left:.1f}"
                if args.min_days is not None and left < args.min_days and code == EXIT_OK:
                    code = EXIT_EXPIRING
        rows.append((name, _plain(one.host), days, _plain(shown)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        _show("  ".join([*cells, row[3]]))
    return code
