"""``ticktick-auth doctor``: a checklist of what signing on and using the token need.

Each line is a check, marked ✓ (passed), ✗ (failed, with the fix on the next line)
or - (skipped, and why): the client id and secret are set (never shown), the
redirect URI is well formed and, on loopback, its port is free; the store is
readable and private; a token is there and how many days it has left; and, with the
network (not with ``--offline``), this machine's clock agrees with the server's
``Date`` header, what the server's metadata says of PKCE and revocation (shown,
never failed), and the Open API accepts the token. Exit 0 when no check failed.

Nothing here waits forever: the port is bound and released at once, the cache file
is opened by the one rule (`open_checked`: a FIFO or another user's file is refused,
never waited on), and every request has a deadline (`NETWORK_TIMEOUT`). ``requests``
is imported only when a network check runs.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import time
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..endpoints import Endpoints, check_redirect_uri, resolve_host
from ..errors import ConfigurationError, TickTickError, TokenFormatError
from ..resolution import find_stored_token, where
from ..stores import FileStore
from ..stores.disk import open_checked
from ..token import API_TOKEN_KIND, expire_time_of
from .commands import _command, _days_left, _store
from .output import EXIT_FAILURE, EXIT_OK, PROG, _show

if TYPE_CHECKING:
    import requests

    from ..stores import TokenStore
    from ..token import TokenDict
    from .output import Options

PASSED, FAILED, SKIPPED = "✓", "✗", "-"

CLOCK_SKEW_LIMIT = 60.0
"""Seconds this machine's clock may differ from the server's before the check fails."""

NETWORK_TIMEOUT = (5.0, 10.0)
"""Each request's deadline: seconds to connect, and for the whole answer."""

_SECRET_VARIABLE = "TICKTICK_CLIENT_SECRET"  # noqa: S105 # nosec B105 - a variable's name
_REDIRECT_VARIABLE = "TICKTICK_REDIRECT_URI"
_OTHER_STORE = "fix what the line says, or choose another store (--store, --cache-path)"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: its mark, what was found and, for a failure, the fix."""

    mark: str
    text: str
    fix: str = ""


def _passed(text: str) -> Check:
    return Check(PASSED, text)


def _failed(text: str, fix: str = "") -> Check:
    return Check(FAILED, text, fix)


def _skipped(text: str) -> Check:
    return Check(SKIPPED, text)


# -- the login command to suggest ---------------------------------------------------------


def _login(args: Options) -> str:
    """``ticktick-auth login`` for this host and store, in quotes, naming no client id."""
    without_id = types.SimpleNamespace(**{**vars(args), "client_id": None})
    command = _command(without_id, "login")
    if args.redirect_uri_given:
        command += " " + shlex.join(["--redirect-uri", args.redirect_uri_given])
    if args.client_id and os.environ.get("TICKTICK_CLIENT_ID") != args.client_id:
        return f"run '{command}' with your --client-id"
    return f"run '{command}'"


# -- the checks ---------------------------------------------------------------------------


def check_credentials(args: Options) -> Check:
    """The client id (``--client-id``, ``TICKTICK_CLIENT_ID``) and secret are set."""
    secret = os.environ.get(_SECRET_VARIABLE, "")
    missing = []
    if not (args.client_id or "").strip():
        missing.append("the client id (--client-id or TICKTICK_CLIENT_ID)")
    if not secret.strip():
        missing.append(f"the client secret ({_SECRET_VARIABLE})")
    if not missing:
        return _passed("client id and secret: both set (neither is shown)")
    return _failed(
        f"client id and secret: {' and '.join(missing)} not set",
        "copy them from the page where you registered the app (docs: 'Register your app'): "
        f"pass --client-id or set TICKTICK_CLIENT_ID, and set {_SECRET_VARIABLE}",
    )


def check_redirect(args: Options) -> tuple[Check, tuple[tuple[str, ...], int] | None]:
    """The redirect URI is well formed; also the loopback addresses and port login binds."""
    uri = args.redirect_uri_given or os.environ.get(_REDIRECT_VARIABLE)
    exactly = "exactly as registered for the app, trailing slash included"
    if uri is None or not uri.strip():
        return _failed(
            "redirect URI: none given",
            f"pass --redirect-uri or set {_REDIRECT_VARIABLE}, {exactly}",
        ), None
    try:
        check_redirect_uri(uri.strip())
    except ConfigurationError as exc:
        problem = str(exc).replace("redirect_uri", "the redirect URI")
        return _failed(
            f"redirect URI: {problem}", f"give --redirect-uri (or {_REDIRECT_VARIABLE}) {exactly}"
        ), None
    from ..signon.loopback import loopback_address, loopback_addresses

    loopback = loopback_address(uri.strip())
    if loopback is None:
        return _passed(
            f"redirect URI: {uri.strip()}, well formed (not on loopback http: "
            "login asks you to paste the redirected URL)"
        ), None
    port = loopback[1]
    return _passed(f"redirect URI: {uri.strip()}, well formed"), (
        loopback_addresses(uri.strip()),
        port,
    )


def check_port(addresses: tuple[str, ...], port: int) -> Check:
    """Port *port* can be bound now on each loopback address login binds, as login binds it.

    For ``localhost`` that is both ``127.0.0.1`` and ``::1`` (where a browser may send
    ``localhost`` first): another program on either would be sent the code. ``::1`` is
    skipped where this machine has no IPv6 loopback (no browser goes there either).
    """
    import errno

    from ..signon.loopback import bind_error, missing_loopback

    free = []
    for address in addresses:
        error = bind_error(address, port)
        if error is None:
            free.append(address)
            continue
        if missing_loopback(error) and free:
            continue
        other = (
            "register another loopback redirect URI for the app (e.g. http://127.0.0.1:8765/) "
            "and use it, or log in with --no-capture and paste the redirected URL"
        )
        if error.errno == errno.EADDRINUSE:
            where = " (a browser may send localhost there)" if ":" in address else ""
            return _failed(
                f"port {port} on {address}: in use by another program{where}",
                f"stop that program (find it with 'lsof -i :{port}'), or {other}",
            )
        if error.errno == errno.EACCES:
            return _failed(
                f"port {port} on {address}: this user may not open it (ports below 1024 "
                "need privileges)",
                other,
            )
        return _failed(f"port {port} on {address}: cannot be opened ({error.strerror})", other)
    return _passed(f"port {port} on {' and '.join(free)}: free (login listens there)")


def _shared_folder(path: str) -> Check | None:
    """The failure of a cache file in a folder every user may write to, without sticky bit.

    There anyone can rename a file of their own over the cache file, whatever its mode.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return None  # reading the file says what is wrong
    if not mode & stat.S_IWOTH or mode & stat.S_ISVTX:
        return None
    shown = shlex.quote(folder)
    return _failed(
        f"store: the cache file {path} is in a folder every user can write to "
        f"(mode {stat.S_IMODE(mode):04o}, no sticky bit): anyone can replace the file",
        f"run 'chmod o-w {shown}' (or 'chmod +t {shown}'), or pass another --cache-path",
    )


def check_store(args: Options) -> tuple[Check, TokenStore | None]:
    """The store can be read and, for the cache file, is a private file of yours."""
    try:
        store = _store(args)
    except TickTickError as exc:
        return _failed(f"store: {exc}", _OTHER_STORE), None
    if not isinstance(store, FileStore):
        try:
            store.read()
        except TickTickError as exc:
            return _failed(f"store: {exc}", _OTHER_STORE), None
        return _passed(f"store: {where(store)} can be read"), store
    path = store.path
    quoted = shlex.quote(path)
    try:
        fd = open_checked(path, os.O_RDONLY, "the token cache")
    except FileNotFoundError:
        shared = _shared_folder(path)
        if shared is not None:
            return shared, store
        return _passed(f"store: no cache file {path} yet (login creates it, mode 0600)"), store
    except TickTickError as exc:  # a FIFO, a folder, another user's file or link
        return _failed(
            f"store: {exc}",
            "move it away (login writes a new one), or pass another --cache-path",
        ), None
    except OSError as exc:
        return _failed(
            f"store: cannot read the cache file {path}: {exc.strerror}",
            f"make it readable by you ('chmod 600 {quoted}'), or pass another --cache-path",
        ), None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    if mode & 0o077:
        return _failed(
            f"store: the cache file {path} has mode {mode:04o}: other users can read it",
            f"run 'chmod 600 {quoted}'",
        ), store
    shared = _shared_folder(path)
    if shared is not None:
        return shared, store
    return _passed(f"store: cache file {path}, mode {mode:04o}, yours"), store


def check_token(args: Options, store: TokenStore | None) -> tuple[Check, TokenDict | None]:
    """A valid token in the environment variable or the store, and its days left."""
    host = resolve_host(args.host).host
    env = args.env_key or None
    try:
        found = find_stored_token(env, store)
    except TickTickError as exc:
        in_env = isinstance(exc, TokenFormatError) and env is not None
        return _failed(f"token: {exc}", f"fix or unset {env}" if in_env else _OTHER_STORE), None
    if found.token is not None and found.source is not None:
        days = _days_left(found.token)
        expire_time = expire_time_of(found.token)
        if days is None or expire_time is None:
            left = "its expiry is unknown"
        else:
            left = f"{days:.1f} days left"
        return _passed(f"token: in the {where(found.source)}, {left}"), found.token
    if found.expired:
        return _failed(f"token: {found.reason()}", _login(args)), None
    if store is None:  # only the variable was looked in
        also = f", nor in the environment variable {env}" if env else ""
        return _skipped(f"token: not looked for in the store, which cannot be read{also}"), None
    places = (
        f"the environment variable {env} or the {where(store)}" if env else f"the {where(store)}"
    )
    return _failed(f"token: none for {host} in {places}", _login(args)), None


def _base_url(endpoints: Endpoints) -> str:
    """The host's base URL: ``https://ticktick.com`` for a region, else the URL given."""
    host = endpoints.host
    return host if "://" in host else f"https://{host}"


def _failure(exc: requests.RequestException) -> str:
    """Why a request failed, in a few words that no server wrote."""
    from .._http.failures import connect_failure, never_sent, timed_out

    if never_sent(exc):
        return f"could not connect: {connect_failure(exc)}"
    if timed_out(exc):
        return "no answer in time"
    return "the connection failed while reading the answer"


def _skew(seconds: float) -> str:
    """A clock difference for people: ``95 s``, or ``10800 s (3.0 h)``."""
    text = f"{seconds:.0f} s"
    if seconds >= 3600:
        text += f" ({seconds / 3600:.1f} h)"
    elif seconds >= 120:
        text += f" ({seconds / 60:.0f} min)"
    return text


_BODY_READ = 16384
"""Bytes of an answer's body read to see that it ends (the rest is not needed)."""


def check_clock(endpoints: Endpoints, session: requests.Session) -> Check:
    """Compare the clock here with the server's ``Date`` header (at most `CLOCK_SKEW_LIMIT` off)."""
    import email.utils
    from datetime import timezone

    import requests

    from .._http.session import read_body

    base = _base_url(endpoints)
    offline = "check the network, or pass --offline to skip the checks that need it"
    before = time.time()
    try:
        response = session.get(base, allow_redirects=False, stream=True)
    except requests.RequestException as exc:
        return _failed(f"clock: no answer from {base} ({_failure(exc)})", offline)
    after = time.time()
    date = response.headers.get("Date", "")
    try:  # headers cut off by the deadline read as complete ones: the answer must end
        read_body(response, _BODY_READ, NETWORK_TIMEOUT)
    except requests.RequestException as exc:
        return _failed(f"clock: no complete answer from {base} ({_failure(exc)})", offline)
    try:
        server = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return _failed(
            f"clock: {base} sent no readable Date header to compare with",
            "none needed if the token works; otherwise check --host",
        )
    if server.tzinfo is None:
        server = server.replace(tzinfo=timezone.utc)
    # The Date header is whole seconds, taken while the request was under way.
    skew = (before + after) / 2 - (server.timestamp() + 0.5)
    if abs(skew) <= CLOCK_SKEW_LIMIT:
        return _passed(f"clock: within {_skew(abs(skew))} of the server's ({base})")
    direction = "ahead of" if skew > 0 else "behind"
    return _failed(
        f"clock: this machine is {_skew(abs(skew))} {direction} the server ({base}); "
        f"more than {CLOCK_SKEW_LIMIT:g} s off, it misjudges when tokens expire",
        "turn on network time, e.g. 'sudo timedatectl set-ntp true' (Linux)",
    )


def check_metadata(endpoints: Endpoints, session: requests.Session) -> Check:
    """What the server's metadata (RFC 8414) says of PKCE and revocation; never a failure.

    Signing on does not need the metadata, so its absence or a bad answer is shown
    as skipped, with what it means for ``logout --revoke``.
    """
    from ..metadata import server_metadata

    found = server_metadata(endpoints, session=session, timeout=NETWORK_TIMEOUT)
    if not found.found:
        return _skipped(
            f"server metadata: none usable at {found.url} ({found.problem}); signing on "
            "does not need it, but 'logout --revoke' can then only remove the token here"
        )
    methods = ", ".join(found.code_challenge_methods) or "none listed"
    revocation = (
        f"revocation at {found.revocation_endpoint}"
        if found.revocation_endpoint
        else "no revocation endpoint ('logout --revoke' removes the token here only)"
    )
    return _passed(f"server metadata: PKCE methods {methods}; {revocation}")


def check_api(
    args: Options, endpoints: Endpoints, token: TokenDict, session: requests.Session
) -> Check:
    """The Open API accepts *token*: ``GET /open/v1/project`` answers 200."""
    import requests

    from .._http.session import read_body

    url = f"{endpoints.api_base_url}/project"
    what = f"Open API: GET {url}"
    try:
        response = session.get(
            url,
            headers={"Authorization": f"Bearer {token['access_token']}"},
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        return _failed(
            f"{what}: no answer ({_failure(exc)})",
            "check the network, or pass --offline to skip the checks that need it",
        )
    status = response.status_code
    try:  # headers cut off by the deadline read as complete ones: the answer must end
        read_body(response, _BODY_READ, NETWORK_TIMEOUT)
    except requests.RequestException as exc:
        return _failed(
            f"{what}: {status} but no complete answer ({_failure(exc)})",
            "check the network and --host, or pass --offline to skip the checks that need it",
        )
    if status == 200:
        return _passed(f"{what}: 200, the token is accepted")
    if status == 401:
        return _failed(
            f"{what}: 401, the token is refused: it was revoked (the app's access "
            "removed) or expired on the server's side, whatever its expiry time says",
            f"get a new token: {_login(args)}",
        )
    if status == 403:
        return _failed(
            f"{what}: 403, the token may not read projects",
            "sign on again with --scope 'tasks:write tasks:read' (ticktick-auth login)",
        )
    return _failed(f"{what}: answered {status}", "try again later; check --host if it persists")


# -- the command ----------------------------------------------------------------------------


def _marks() -> dict[str, str]:
    """The marks as the terminal can print them: ✓ ✗ -, or OK FAIL SKIP in plain ASCII."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        (PASSED + FAILED).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return {PASSED: "OK  ", FAILED: "FAIL", SKIPPED: "SKIP"}
    return {PASSED: PASSED, FAILED: FAILED, SKIPPED: SKIPPED}


def _keeps_api_token(args: Options) -> bool:
    """Whether this setup is a personal API token's: ``--api-token``, or what the file says."""
    if args.api_token:
        return True
    if args.store != "file":
        return False
    identity = FileStore(args.cache_path).recorded_identity()  # never raises
    return identity is not None and identity.kind == API_TOKEN_KIND


def run_checks(args: Options) -> list[Check]:
    """Every check of ``doctor``, in order, printing each line as it is found."""
    marks = _marks()
    checks: list[Check] = []

    def show(check: Check) -> None:
        checks.append(check)
        _show(f"{marks[check.mark]} {check.text}", flush=True)
        if check.fix:
            _show(f"    fix: {check.fix}", flush=True)

    if _keeps_api_token(args):
        args.api_token = True
        show(_skipped("app: not needed for a personal API token (no client id, secret or URI)"))
    else:
        show(check_credentials(args))
        redirect, loopback = check_redirect(args)
        show(redirect)
        if loopback is not None:
            show(check_port(*loopback))
    store_check, store = check_store(args)
    show(store_check)
    token_check, token = check_token(args, store)
    show(token_check)
    if args.offline:
        show(_skipped("clock: not compared (--offline)"))
        show(_skipped("server metadata: not read (--offline)"))
        show(_skipped("Open API: not asked (--offline)"))
        return checks
    from .._http.session import requests_retry_session

    endpoints = resolve_host(args.host)
    session = requests_retry_session(
        retries=1, backoff_factor=0.5, timeout=NETWORK_TIMEOUT, retry_after_max=5.0
    )
    with session:
        show(check_clock(endpoints, session))
        show(check_metadata(endpoints, session))
        if token is None:
            show(_skipped("Open API: not asked (no valid token)"))
        else:
            show(check_api(args, endpoints, token, session))
    return checks


def _cmd_doctor(args: Options) -> int:
    host = resolve_host(args.host).host
    _show(f"{PROG} doctor: checking the setup for {host}")
    checks = run_checks(args)
    failed = sum(check.mark == FAILED for check in checks)
    if failed:
        _show(f"{failed} of {len(checks)} checks failed; the fix is under each.")
        return EXIT_FAILURE
    _show("No check failed.")
    return EXIT_OK
