"""Profiles: the settings of several apps, accounts and regions, each under a name.

``ticktick-auth login --profile work`` remembers the app's client id, redirect URI,
host, scope and store for ``work`` in one file, ``profiles.json``, in the user's
config folder (`config_dir`); ``OAuth2.from_profile("work")`` and every
``ticktick-auth`` command with ``--profile work`` (or ``TICKTICK_PROFILE=work``) read
them back. Each profile keeps its token in a place of its own (by default the cache
file ``<config folder>/<name>.token-oauth``), so two profiles never share a token.

The file never holds the client secret: that is asked for, or taken from
``TICKTICK_CLIENT_SECRET``, or from the keyring (`client_secret_from_keyring`).

It is written as the token cache is (``ticktick.stores.disk``): mode 0600, atomically,
under a sidecar lock (``profiles.json.lock``), and read only if it is a regular file of
your own. A file that is not a valid profiles file is never overwritten: the next
``login --profile`` renames it aside (``profiles.json.corrupt-<time>``) with a warning.

It is on the fast path of ``ticktick-auth token --profile NAME`` (docs/architecture.md):
the lock is imported only to write.
"""

from __future__ import annotations

import json
import os
import sys
import time

from ._defaults import LOCK_TIMEOUT, logger
from .errors import ConfigurationError, TokenCacheError
from .stores.disk import open_checked, read_up_to, write_private_file

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "CONFIG_FILE",
    "PROFILE_VARIABLE",
    "Profile",
    "ProfilesFile",
    "check_profile_name",
    "client_secret_from_keyring",
    "config_dir",
    "named_by_variable",
    "store_namespace",
]

APP_FOLDER = "ticktick-auth"
"""The name of this package's folder in the user's config folder."""

CONFIG_FILE = "profiles.json"
"""The profiles file's name in `config_dir`."""

PROFILE_VARIABLE = "TICKTICK_PROFILE"
"""The environment variable naming the profile when ``--profile`` / ``name`` is not given."""

SETTINGS = (
    "kind",
    "client_id",
    "redirect_uri",
    "host",
    "scope",
    "store",
    "cache_path",
    "redis_url",
)
"""What a profile remembers, in this order. Never the client secret."""

MAX_CONFIG_SIZE = 1024 * 1024
"""The largest profiles file read, in bytes."""

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_MAX_NAME = 64


def config_dir() -> str:
    r"""The folder of ``profiles.json``: ``$XDG_CONFIG_HOME/ticktick-auth`` if it is set.

    Else the platform's config folder: ``~/.config/ticktick-auth`` on Linux and other
    Unix systems, ``~/Library/Application Support/ticktick-auth`` on macOS and
    ``%APPDATA%\ticktick-auth`` on Windows. (Written here rather than taken from
    ``platformdirs``: this package depends on requests and urllib3 only, and these
    three rules are all it needs.) A relative ``XDG_CONFIG_HOME`` is ignored, as the
    XDG specification says.
    """
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, APP_FOLDER)
    home = os.path.expanduser("~")
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        base = os.environ.get("APPDATA") or os.path.join(home, "AppData", "Roaming")
    elif sys.platform == "darwin":  # pragma: no cover - exercised on macOS only
        base = os.path.join(home, "Library", "Application Support")
    else:
        base = os.path.join(home, ".config")
    return os.path.join(base, APP_FOLDER)


def check_profile_name(name: str) -> str:
    """Return *name* if it can name a profile (and its token file), else raise.

    A name is 1 to 64 letters, digits, ``-``, ``_`` and ``.``, not starting with ``.``.

    Raises:
        ConfigurationError: It cannot.
    """
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= _MAX_NAME
        or name.startswith(".")
        or not set(name) <= _NAME_CHARACTERS
    ):
        shown = repr(name) if isinstance(name, str) and name.isprintable() else "given"
        raise ConfigurationError(
            f"The profile name {shown} cannot be used: a profile name is 1 to {_MAX_NAME} "
            "letters, digits, '-', '_' and '.', not starting with '.' (e.g. work, personal, "
            "dida365)."
        )
    return name


def named_by_variable(instead: str = "pass the name: OAuth2.from_profile(NAME)") -> str:
    """The sentence that ends an error about a profile name taken from `PROFILE_VARIABLE`.

    *instead* says how else to name the profile (the CLI: ``--profile``).
    """
    return (
        f"The name comes from the environment variable {PROFILE_VARIABLE}: fix or unset "
        f"it, or {instead}."
    )


class Profile:
    """One profile's settings: what ``login --profile NAME`` remembered.

    Attributes:
        name: The profile's name.
        kind: ``"api_token"`` when the profile keeps a personal API token
            (``login --api-token --profile NAME``); ``None`` for an app's OAuth token.
        client_id: The app's client id.
        redirect_uri: The redirect URI registered for the app.
        host: ``ticktick.com``, ``dida365.com`` or a server's base URL.
        scope: The scope asked for.
        store: ``file``, ``keyring`` or ``redis``.
        cache_path: The token file of the ``file`` store (absolute).
        redis_url: The Redis server of the ``redis`` store.
    """

    __slots__ = ("name", *SETTINGS)

    def __init__(self, name: str, settings: Mapping[str, str | None]) -> None:
        self.name = check_profile_name(name)
        self.kind: str | None = settings.get("kind")
        self.client_id: str | None = settings.get("client_id")
        self.redirect_uri: str | None = settings.get("redirect_uri")
        self.host: str | None = settings.get("host")
        self.scope: str | None = settings.get("scope")
        self.store: str | None = settings.get("store")
        self.cache_path: str | None = settings.get("cache_path")
        self.redis_url: str | None = settings.get("redis_url")

    def settings(self) -> dict[str, str]:
        """The settings that are set, as stored in the file."""
        values = ((name, getattr(self, name)) for name in SETTINGS)
        return {name: value for name, value in values if value is not None}

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, {self.settings()!r})"


class ProfilesFile:
    """The profiles file, ``profiles.json`` in *folder* (`config_dir` by default).

    Its form: ``{"version": 1, "default": NAME, "profiles": {NAME: {SETTING: VALUE}}}``.
    ``default`` is the profile used when none is named (the first one saved).

    Args:
        folder: The folder of the file; `config_dir` by default.
    """

    def __init__(self, folder: str | None = None) -> None:
        self.folder = config_dir() if folder is None else folder
        self.path = os.path.join(self.folder, CONFIG_FILE)

    def __repr__(self) -> str:
        return f"ProfilesFile({self.folder!r})"

    def token_path(self, name: str) -> str:
        """The default token cache file of the profile *name*: ``<folder>/<name>.token-oauth``."""
        return os.path.join(self.folder, f"{check_profile_name(name)}.token-oauth")

    # -- reading ---------------------------------------------------------------------

    def _read(self) -> bytes | None:
        """The file's bytes (up to the limit, plus one), ``None`` when there is none."""
        try:
            fd = open_checked(self.path, os.O_RDONLY, "the profiles file")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the profiles file {self.path}: {exc.strerror}. "
                "Fix its permissions, or set XDG_CONFIG_HOME to another folder."
            ) from None
        try:
            return read_up_to(fd, MAX_CONFIG_SIZE)
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot read the profiles file {self.path}: {exc.strerror}."
            ) from None
        finally:
            os.close(fd)

    def _decode(self, raw: bytes) -> tuple[dict[str, Any] | None, str]:
        """The file's content, or ``None`` and why it is not a profiles file."""
        if len(raw) > MAX_CONFIG_SIZE:
            return None, f"larger than {MAX_CONFIG_SIZE} bytes"
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, "not JSON"
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            return None, "no 'profiles' object"
        for name, settings in data["profiles"].items():
            try:
                check_profile_name(name)
            except ConfigurationError:
                return None, "a profile with an unusable name"
            if not isinstance(settings, dict) or not all(
                isinstance(settings.get(key, ""), str) for key in SETTINGS
            ):
                return None, f"the profile {name!r} is not an object of text settings"
        default = data.get("default")
        if default is not None and default not in data["profiles"]:
            return None, "a 'default' that names no profile"
        return data, ""

    def load(self) -> dict[str, Any]:
        """The file's content; an empty one when there is no file.

        Raises:
            ConfigurationError: The file is not a valid profiles file (it is left as is).
            TokenCacheError: It cannot be read, or is not a regular file of your own.
        """
        raw = self._read()
        if raw is None:
            return {"version": 1, "profiles": {}}
        data, problem = self._decode(raw)
        if data is None:
            raise ConfigurationError(
                f"The profiles file {self.path} is not valid ({problem}); it is left as is. "
                "Fix it, or sign on again with a profile ('ticktick-auth login --profile "
                "NAME' with the app's settings), which moves it aside and starts a new one."
            )
        return data

    def names(self) -> list[str]:
        """The names of the profiles, sorted."""
        return sorted(self.load()["profiles"])

    def default_name(self) -> str | None:
        """The profile used when none is named: ``TICKTICK_PROFILE``, else the file's default."""
        return os.environ.get(PROFILE_VARIABLE) or self.load().get("default")

    def get(self, name: str | None = None) -> Profile:
        """The profile *name* (the default one when ``None``).

        Raises:
            ConfigurationError: There is no such profile (the message lists the known
                ones), or the file is not valid.
        """
        data = self.load()
        from_variable = name is None and bool(os.environ.get(PROFILE_VARIABLE))
        if name is None:
            name = os.environ.get(PROFILE_VARIABLE) or data.get("default")
            if name is None:
                raise ConfigurationError(
                    f"No profile was named and there is none in {self.path}. Create one with "
                    "'ticktick-auth login --profile NAME' (with the app's settings)."
                )
        try:
            settings = data["profiles"].get(check_profile_name(name))
            if settings is None:
                known = ", ".join(sorted(data["profiles"])) or "none yet"
                raise ConfigurationError(
                    f"There is no profile {name!r} in {self.path} (known profiles: {known}). "
                    f"Create it with 'ticktick-auth login --profile {name}' (with the app's "
                    "settings), or name one of the known profiles."
                )
        except ConfigurationError as exc:
            if not from_variable:
                raise
            raise ConfigurationError(f"{exc} {named_by_variable()}") from None
        return Profile(name, settings)

    def get_or_none(self, name: str) -> Profile | None:
        """The profile *name*, or ``None`` when there is no such profile (or no file)."""
        settings = self.load()["profiles"].get(check_profile_name(name))
        return None if settings is None else Profile(name, settings)

    # -- writing ---------------------------------------------------------------------

    def save(self, profile: Profile) -> None:
        """Add or replace *profile* in the file (0600, atomically, under its lock).

        The first profile saved becomes the default. A file that is not a valid
        profiles file is renamed aside first (``profiles.json.corrupt-<time>``), with a
        warning, never overwritten.

        Raises:
            TokenCacheError: The folder or the file cannot be written.
        """
        from .stores.locks import file_lock

        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise TokenCacheError(
                f"Cannot create the folder {self.folder} for the profiles file: {exc.strerror}."
            ) from None
        with file_lock(self.path + ".lock").hold(LOCK_TIMEOUT):
            raw = self._read()
            decoded, problem = (None, "") if raw is None else self._decode(raw)
            if raw is not None and decoded is None:
                self._set_aside(problem)
            data = decoded or {"version": 1, "profiles": {}}
            data["profiles"][profile.name] = profile.settings()
            data.setdefault("default", profile.name)
            payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
            write_private_file(self.path, payload, what="the profiles file")

    def _set_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = f"{self.path}.corrupt-{stamp}-{os.urandom(3).hex()}"
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            raise TokenCacheError(
                f"The profiles file {self.path} is not valid ({why}) and cannot be moved "
                f"aside: {exc.strerror}. Move or delete it by hand."
            ) from None
        logger().warning(
            "The profiles file %s was not valid (%s); it was moved to %s and a new one is made.",
            self.path,
            why,
            os.path.basename(aside),
        )


def store_namespace(name: str) -> str:
    """The keyring service and Redis key prefix of the profile *name*: ``ticktick-oauth:NAME``.

    Those stores keep one token per host, app and scope; a namespace per profile keeps
    two accounts of one app apart there too.
    """
    return f"ticktick-oauth:{check_profile_name(name)}"


def client_secret_from_keyring(client_id: str) -> str | None:
    """The client secret kept in the system keyring for *client_id*, if any.

    The entry is the password of the service ``ticktick-oauth`` for the user name
    ``client_secret:<client id>`` (e.g. ``keyring set ticktick-oauth
    client_secret:AbC``). ``None`` when the ``keyring`` package is not installed, has
    no usable backend, or holds no such entry.
    """
    try:
        import keyring
    except ImportError:
        return None
    try:
        secret = keyring.get_password("ticktick-oauth", f"client_secret:{client_id}")
    except Exception:  # any backend failure: the secret is then asked for or taken elsewhere
        logger().debug("The keyring could not be read for the client secret.")
        return None
    return secret if isinstance(secret, str) and secret.strip() else None
