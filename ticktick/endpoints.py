"""Where TickTick and Dida365 live: the OAuth and Open API URLs of each region.

An app is registered in one region, and its credentials and tokens work only
there: a token of one region must never be sent to the other. ``host=`` picks the
region and every URL follows from it.
"""

from __future__ import annotations

from .errors import ConfigurationError

__all__ = ["DIDA365", "TICKTICK", "Endpoints", "resolve_host"]


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
    """Tell whether *hostname* names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(hostname).is_loopback
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

    Raises:
        ConfigurationError: The host is unknown, a remote URL is not https, or a URL
            on a region's domain is not that region's root.
    """
    if isinstance(host, Endpoints):
        return host
    text = host.strip()
    known = _KNOWN.get(text.lower().rstrip("/"))
    if known is not None:
        return known
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Unknown host {host!r}. Use host='ticktick.com' (international), "
            "host='dida365.com' (China), or a server's base URL such as 'https://example.org'."
        )
    scheme = parts.scheme.lower()
    region = _region_of(parts.hostname)
    if region is not None:
        if (
            scheme == "https"
            and port in (None, 443)
            and parts.path in ("", "/")
            and not (parts.query or parts.fragment or parts.username or parts.password)
        ):
            return region
        raise ConfigurationError(
            f"The host {host!r} is on {region.host} but is not its address: use "
            f"host={region.host!r} (every URL of the region follows from it)."
        )
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"Refusing plain-HTTP host {host!r}: tokens and client secrets must travel over "
            "https. Use an https:// URL (plain http is allowed only on 127.0.0.1 for tests)."
        )
    return Endpoints.from_base_url(f"{scheme}://{parts.netloc}{parts.path}")


def _region_of(hostname: str) -> Endpoints | None:
    """The region whose domain *hostname* is or is under (``api.ticktick.com``), if any."""
    name = hostname.lower().rstrip(".")
    for domain, region in _KNOWN.items():
        if name == domain or name.endswith("." + domain):
            return region
    return None
