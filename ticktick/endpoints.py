"""Where TickTick and Dida365 live: the OAuth and Open API URLs of each region.

An app is registered in one region, and its credentials and tokens work only
there: a token of one region must never be sent to the other. ``host=`` picks the
region and every URL follows from it.

The redirect URI's rules live here too: its shape (`check_redirect_uri`), and
TickTick's answer when it is not a registered one ("Invalid redirect: X does not
match one of the registered values: [Y]"), which its error page, a pasted line and
the token endpoint's ``invalid_grant`` all carry (`find_redirect_mismatch`,
`redirect_uri_advice`).
"""

from __future__ import annotations

from .errors import ConfigurationError, RedirectUriMismatch, argument, without_userinfo

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from urllib.parse import SplitResult

__all__ = [
    "DIDA365",
    "TICKTICK",
    "Endpoints",
    "check_redirect_uri",
    "find_redirect_mismatch",
    "redirect_uri_advice",
    "resolve_host",
    "showable_redirect_uri",
]


class Endpoints:
    """The URLs of one TickTick region (or of a test server). Immutable.

    Attributes:
        host: The name tokens are recorded under (``"ticktick.com"``, or a base URL).
        authorize_url: Where a person's browser is sent to allow access.
        token_url: Where the code is exchanged for a token.
        api_base_url: The Open API V1 base URL.
    """

    # A plain class rather than a dataclass: `ticktick-auth token` must start fast.
    __slots__ = ("api_base_url", "authorize_url", "host", "token_url")

    host: str
    authorize_url: str
    token_url: str
    api_base_url: str

    def __init__(self, host: str, authorize_url: str, token_url: str, api_base_url: str) -> None:
        for name, value in zip(
            self.__slots__, (api_base_url, authorize_url, host, token_url), strict=True
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Endpoints is immutable")

    def __reduce__(self) -> tuple[type[Endpoints], tuple[str, str, str, str]]:
        # Pickle by the constructor: the default would set the slots one by one.
        return (type(self), self._key())

    def __copy__(self) -> Endpoints:
        return self  # immutable: a copy is the same value

    def __deepcopy__(self, memo: dict[int, object]) -> Endpoints:
        return self

    def _key(self) -> tuple[str, str, str, str]:
        return (self.host, self.authorize_url, self.token_url, self.api_base_url)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoints) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Endpoints({!r}, {!r}, {!r}, {!r})".format(*self._key())

    @classmethod
    def from_base_url(cls, base_url: str) -> Endpoints:
        """Endpoints of a server that serves OAuth and the Open API under one base URL."""
        base = base_url.rstrip("/")
        return cls(base, f"{base}/oauth/authorize", f"{base}/oauth/token", f"{base}/open/v1")


TICKTICK = Endpoints(
    "ticktick.com",
    "https://ticktick.com/oauth/authorize",
    "https://ticktick.com/oauth/token",
    "https://api.ticktick.com/open/v1",
)
DIDA365 = Endpoints(
    "dida365.com",
    "https://dida365.com/oauth/authorize",
    "https://dida365.com/oauth/token",
    "https://api.dida365.com/open/v1",
)
_KNOWN = {"ticktick.com": TICKTICK, "dida365.com": DIDA365}


def is_loopback(hostname: str | None) -> bool:
    """Tell whether *hostname* names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    A trailing dot (``localhost.``, ``127.0.0.1.``) names the same host, as in a browser.
    """
    if not hostname:
        return False
    name = hostname[:-1] if hostname.endswith(".") else hostname
    if name.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def resolve_host(host: str | Endpoints) -> Endpoints:
    """Return the endpoints for ``host=``.

    Accepts ``"ticktick.com"``, ``"dida365.com"``, an `Endpoints`, or the base
    URL of a compatible server (``"http://127.0.0.1:8123"`` for
    [`ticktick.testing.FakeTickTick`][ticktick.testing.server.FakeTickTick]). Plain HTTP is
    refused except on loopback. A region's own URL, in any case and with or without
    a trailing slash (``"https://TickTick.com/"``), is that region: the same
    endpoints and the same tokens as ``"ticktick.com"``.

    A URL is checked whole here, so that no request made from it later fails on its
    form: no space or control character, a host name of ASCII letters, digits, ``-``,
    ``_`` and dots (an international name in its ``xn--`` form) or an IP address, a
    port from 1 to 65535, and no user name or password (they would show in messages).

    Raises:
        ConfigurationError: The host is unknown, a URL is malformed, carries a user
            name or password, or is not https (but on loopback), or a URL on a
            region's domain is not that region's root.
    """
    if isinstance(host, Endpoints):
        return host
    text = host.strip()
    known = _KNOWN.get(text.lower().rstrip("/"))
    if known is not None:
        return known
    from urllib.parse import urlsplit

    shown = without_userinfo(text)  # the only form of the text that goes into a message

    if any(char <= " " or char == "\x7f" for char in text):
        raise ConfigurationError(
            f"The host {shown!r} contains a space or a control character; give a "
            "server's base URL such as 'https://example.org'."
        )
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an unclosed '[' of an IPv6 address
        raise ConfigurationError(
            f"The host {shown!r} is not a readable URL ({exc}); give a server's base "
            "URL such as 'https://example.org'."
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Unknown host {shown!r}. Use {argument('host', 'ticktick.com')} (international), "
            f"{argument('host', 'dida365.com')} (China), or a server's base URL such as "
            "'https://example.org'."
        )
    scheme = parts.scheme.lower()
    port = _port(parts, f"The host {shown!r}")
    region = _region_of(parts.hostname)
    credentials = "@" in parts.netloc
    if region is not None:
        if (
            scheme == "https"
            and port in (None, 443)
            and parts.path in ("", "/")
            and not (parts.query or parts.fragment or credentials)
        ):
            return region
        raise ConfigurationError(
            f"The host {shown!r} is on {region.host} but is not its address: use "
            f"{argument('host', region.host)} (every URL of the region follows from it)."
        )
    if credentials:
        raise ConfigurationError(
            f"The host {shown!r} carries a user name or password ('user:password@'); "
            "refusing it, since it would show in messages. Give the server's base URL "
            "without them."
        )
    problem = _host_name_problem(parts.hostname, parts.netloc)
    if problem is not None:
        raise ConfigurationError(
            f"The host {shown!r} has {problem}; give a server's base URL such as "
            "'https://example.org'."
        )
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"Refusing plain-HTTP host {shown!r}: tokens and client secrets must travel "
            "over https. Use an https:// URL (plain http is allowed only on 127.0.0.1 for tests)."
        )
    return Endpoints.from_base_url(f"{scheme}://{parts.netloc}{parts.path}")


def check_redirect_uri(redirect_uri: object) -> str:
    """Return *redirect_uri* if it has the shape of a redirect URI, else raise.

    The shape: an ``http`` or ``https`` URL with a host and, if given, a port from 1
    to 65535, with no space or control character and no fragment (``#...``, RFC 6749
    3.1.2). Whether it is the one registered for the app only TickTick can say.

    Raises:
        ConfigurationError: It is not such a URL (the message says what is wrong).
    """
    example = "the full redirect URL registered for the app, e.g. 'http://127.0.0.1:8080/'"
    if not isinstance(redirect_uri, str):
        raise ConfigurationError(f"{argument('redirect_uri', bare=True)} must be {example}.")
    from urllib.parse import urlsplit

    what = f"The redirect URI {redirect_uri!r}"
    if any(char <= " " or char == "\x7f" for char in redirect_uri):
        raise ConfigurationError(
            f"{what} contains a space or a control character; it must be {example}."
        )
    try:
        parts = urlsplit(redirect_uri)
    except ValueError as exc:  # e.g. an unclosed '[' of an IPv6 address
        raise ConfigurationError(
            f"{what} is not a readable URL ({exc}); it must be {example}."
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{argument('redirect_uri', bare=True)} must be {example}, not {redirect_uri!r}."
        )
    _port(parts, what)
    if "#" in redirect_uri:
        raise ConfigurationError(
            f"{what} has a fragment (the part from '#'), which a redirect URI must not have "
            "(RFC 6749 3.1.2): the browser keeps it, and the code TickTick adds after it, "
            f"from this machine. Register and use it without the '#' part; it must be {example}."
        )
    return redirect_uri


def _port(parts: SplitResult, what: str) -> int | None:
    """The port of *parts*, ``None`` if not given; *what* is refused if it is not 1-65535."""
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        given = parts.netloc.rpartition(":")[2]
        raise ConfigurationError(
            f"{what} has the port {given!r}, which is not a number from 1 to 65535."
        )
    return port


def _host_name_problem(hostname: str, netloc: str) -> str | None:
    """What is wrong with the host name of a URL, or ``None`` (an IP address or a DNS name)."""
    if netloc.rpartition("@")[2].startswith("["):  # an IPv6 address (with any %zone)
        import ipaddress

        try:
            ipaddress.IPv6Address(hostname.partition("%")[0])
        except ValueError:
            return "a malformed IPv6 address in brackets"
        return None
    name = hostname[:-1] if hostname.endswith(".") else hostname
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    if not name or len(name) > 253:
        return "a host name that is empty or longer than 253 characters"
    for label in name.split("."):
        if not label or len(label) > 63:
            return "a host name with an empty part, or one longer than 63 characters"
        if any(char not in allowed for char in label.lower()):
            return (
                "a host name with a character other than ASCII letters, digits, '-', '_' "
                "and dots (write an international name in its 'xn--' form)"
            )
    return None


def _region_of(hostname: str) -> Endpoints | None:
    """The region whose domain *hostname* is or is under (``api.ticktick.com``), if any."""
    name = hostname.lower().rstrip(".")
    for domain, region in _KNOWN.items():
        if name == domain or name.endswith("." + domain):
            return region
    return None


# -- TickTick's answer to a redirect URI that is not registered ------------------------

MAX_MISMATCH_TEXT = 16 * 1024
"""The longest text searched for TickTick's "Invalid redirect" line, in characters."""

MAX_URI = 2048
"""The longest redirect URI taken from a mismatch error, in characters."""

MAX_REGISTERED = 10
"""At most this many registered redirect URIs are taken from a mismatch error."""

# TickTick's words (its error page, and the token endpoint's error_description). The
# list may hold IPv6 URLs in brackets (one level). No part can match the same text in two
# ways (a run of blanks is taken by one repetition only, never split between two), so a
# search takes time linear in the (bounded) text for each "Invalid redirect".
# Compiled on first use (`re` caches it): reading a cached token never needs it.
_MISMATCH = (
    r"invalid\s+redirect\s*:\s*(?:(?P<sent>\S+)\s+)?does\s+not\s+match\s+one\s+of\s+"
    r"the\s+registered\s+values\s*(?::\s*)?\[(?P<registered>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
)

# Java's list separator: a comma and one blank. A comma alone is part of a URI (legal in
# its path or query); more blanks around a value are the value's own (typed with it).
_SEPARATOR = r",\s|,(?=\s*\Z)"


def showable_redirect_uri(value: str) -> str | None:
    """*value* without blanks and quotes around it, if it is a redirect URI safe to show.

    Safe: a printable ASCII ``http``/``https`` URL of the right shape, with no quotes,
    blanks or backslashes, and no user name or password. Else ``None``.
    """
    from urllib.parse import urlsplit

    value = value.strip().strip("'\"").strip()
    if not value or len(value) > MAX_URI or not value.isascii() or not value.isprintable():
        return None
    if any(char in value for char in " \"'`<>\\"):
        return None
    try:
        check_redirect_uri(value)
        netloc = urlsplit(value).netloc
    except (ConfigurationError, ValueError):
        return None
    return None if "@" in netloc else value  # a user name or password would show


def find_redirect_mismatch(
    text: str,
    *,
    status: int | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> RedirectUriMismatch | None:
    """The `RedirectUriMismatch` that TickTick's "Invalid redirect" text in *text* says, if any.

    *text* may be the error page's text, TickTick's JSON answer, a token endpoint's
    ``error_description``, or a URL whose ``error_description`` carries it
    (HTML-escaped or percent-encoded). Only URIs that are printable ASCII
    ``http``/``https`` URLs, without a user name or password, are kept. *text* may come
    from a person or a server: it is read only up to `MAX_MISMATCH_TEXT` characters.
    *status*, *error* and *error_description* are kept on the error (the token
    endpoint's answer), as on every `OAuthError`.
    """
    import html
    import re
    from urllib.parse import unquote_plus

    text = text[:MAX_MISMATCH_TEXT]
    candidates = [text]
    unescaped = html.unescape(text) if "&" in text else text
    if unescaped != text:
        candidates.append(unescaped)
    if "%" in unescaped or "+" in unescaped:
        candidates.append(unquote_plus(unescaped))
    first: RedirectUriMismatch | None = None
    for candidate in candidates:
        match = re.search(_MISMATCH, candidate, re.IGNORECASE)
        if match is None:
            continue
        sent = _without_code_or_state(showable_redirect_uri(match["sent"] or "") or "")
        listed = [value for value in re.split(_SEPARATOR, match["registered"]) if value.strip()]
        registered: list[str] = []
        blanked: list[str] = []
        for value in listed[: MAX_REGISTERED * 4]:
            usable = showable_redirect_uri(value)
            if usable is None:
                continue
            # A value with a blank around it (as typed into the portal) matches no redirect.
            kept = blanked if value.strip("'\"") != usable else registered
            if usable not in kept:
                kept.append(usable)
        found = tuple(registered[:MAX_REGISTERED])
        mismatch = RedirectUriMismatch(
            redirect_uri_advice(
                sent, found, status=status, with_blanks=tuple(blanked[:MAX_REGISTERED])
            ),
            sent=sent,
            registered=found,
            status=status,
            error=error,
            error_description=error_description,
        )
        if found or blanked:
            return mismatch
        first = first or mismatch
    return first


def _without_code_or_state(uri: str) -> str:
    """*uri* without a redirect's own parameters (``code``, ``state``, ``error``...).

    A message never holds a code, nor the state that goes with it; the fragment goes too.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if not parts.query and not parts.fragment:
        return uri
    own = ("code", "state", "error", "error_description", "error_uri", "iss")
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and pair.partition("=")[0].lower() not in own
    ]
    return urlunsplit(parts._replace(query="&".join(kept), fragment=""))


def redirect_uri_advice(
    sent: str,
    registered: tuple[str, ...],
    *,
    status: int | None = None,
    with_blanks: tuple[str, ...] = (),
) -> str:
    """Say that *sent* is not registered, and which redirect URI to use instead.

    The URI to use is named as an argument (``redirect_uri='...'``), or as
    ``ticktick-auth``'s ``--redirect-uri`` while the command runs (`argument`).

    Args:
        sent: The redirect URI that was sent (``""`` if unknown).
        registered: The registered redirect URIs. Like *sent*, each is left out unless
            it is a printable ASCII ``http``/``https`` URL without quotes or a password.
        status: The token endpoint's HTTP status, when it answered so (named in the
            message).
        with_blanks: Registered values listed with a blank around them (typed so into
            the developer portal): no redirect matches them until the blank is removed.
    """
    # Shown as given only if each is a URL safe to show (the text came from outside).
    sent = sent if showable_redirect_uri(sent) == sent else ""
    registered = tuple(
        uri for uri in registered if showable_redirect_uri(uri) == uri and uri != sent
    )[:MAX_REGISTERED]
    with_blanks = tuple(uri for uri in with_blanks if showable_redirect_uri(uri) == uri)
    with_blanks = with_blanks[:MAX_REGISTERED]

    def use(uri: str) -> str:
        return argument("redirect_uri", uri)

    what = f"the redirect URI {sent}" if sent else "the redirect URI sent"
    answer = f" (the token request failed with HTTP {status}: invalid_grant)" if status else ""
    head = f"TickTick refused {what}{answer}: it is not one registered for the app."
    register = (
        f"or register {sent} for the app at developer.ticktick.com/manage "
        "(developer.dida365.com/manage for Dida365)"
        if sent
        else "or register the one you use for the app at developer.ticktick.com/manage"
    )
    if with_blanks:
        portal = "developer.ticktick.com/manage (developer.dida365.com/manage for Dida365)"
        blanks = (
            f"TickTick lists the registered value{'s' if len(with_blanks) > 1 else ''} "
            + ", ".join(with_blanks)
            + " with a blank around it, as typed into the developer portal: no redirect "
            f"matches such a value. Remove the blank at {portal}"
        )
        if not registered:
            then = f", then {sent} works as it is." if sent in with_blanks else ", then use it."
            return f"{head} {blanks}{then}"
        head = f"{head} {blanks}."
    if not registered:
        return (
            f"{head} TickTick lists no registered redirect URI usable here (an http or https "
            f"URL). Register one for the app, such as http://127.0.0.1:8080/, and authorize "
            f"again with {use('http://127.0.0.1:8080/')}."
        )
    if len(registered) == 1:
        choice = f"Authorize again with {use(registered[0])}"
    else:
        choice = "Authorize again with one of: " + ", ".join(use(uri) for uri in registered)
    return f"{head} {choice} (exactly as registered: a trailing slash counts), {register}."
