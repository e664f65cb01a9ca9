"""Secrets never appear in a message, even when a hostile server echoes them.

Raw-socket servers (tests/hostile.py) play a token endpoint and an Open API that
echo every secret they were sent (the code, the client secret, the HTTP Basic
credential raw and decoded, the token) in every field, in JSON, in an HTML body
and in headers, at several statuses. The real `OAuth2` and `OpenAPI` talk to them;
every exception message and every log record is then searched for every spelling
of every secret (leak_audit.spellings: as is, percent- and form-encoded,
JSON-escaped, and base64 for the Basic credential).

Tokens are validated as tokens (RFC 6750's b64token) wherever they come from: a
token response, the cache file, the environment variable, ``access_token_info =``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import pytest
from helpers import FUTURE, clean_env, spawn_cli
from hostile import Connection, HostileServer
from leak_audit import spellings

from ticktick import OAuth2, OpenAPI, TickTickError, TokenFormatError
from ticktick.testing import FakeTickTick

CLIENT_ID = "hostile-client-id"
CLIENT_SECRET = "Cl13nt/S3cr3t+with=odd&chars"
CODE = "C0de-4ll-0ver_the~place"
TOKEN = "T0ken.hostile-0123456789abcdef~+/="
REDIRECT_URI = "http://127.0.0.1:8080/"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def echoes(values: list[str]) -> str:
    """Every spelling of every value, as a hostile server would write them."""
    found: list[str] = []
    for value in values:
        found += [
            value,
            quote(value, safe=""),
            quote(value, safe="").lower(),
            quote_plus(value, safe=""),
            json.dumps(value)[1:-1].replace("/", "\\/"),
            base64.b64encode(value.encode()).decode(),
            base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        ]
    return " | ".join(found)


def sign_on(host: str, client_secret: str = CLIENT_SECRET) -> OAuth2:
    """OAuth2 signing on at *host* as it is made, the person pasting :data:`CODE`."""
    return OAuth2(
        CLIENT_ID,
        client_secret,
        REDIRECT_URI,
        cache_path=None,
        host=host,
        authorizer=lambda request: CODE,
    )


def api_at(url: str) -> OpenAPI:
    """An Open API client of *url*, its token read from HOSTILE_TOKEN_DICT."""
    oauth = OAuth2(
        CLIENT_ID,
        CLIENT_SECRET,
        REDIRECT_URI,
        env_key="HOSTILE_TOKEN_DICT",
        cache_path=None,
        host=url,
        interactive=False,
    )
    return OpenAPI(oauth)


def secret_values() -> set[str]:
    return {CODE, CLIENT_SECRET, f"{CLIENT_ID}:{CLIENT_SECRET}", BASIC, TOKEN}


def leaks(text: str) -> list[str]:
    """The secrets *text* holds in any spelling, each shown only by its first 4 characters."""
    folded = text.casefold()
    return [
        value[:4]
        for value in secret_values()
        if any(form.casefold() in folded for form in spellings(value))
    ]


# -- a token endpoint that echoes everything ---------------------------------------------

BODY_KINDS = ["json-error", "json-token-and-error", "html", "plain"]
STATUSES = [200, 400, 401, 403, 429, 500]


def echoing_token_endpoint(status: int, kind: str) -> Callable[[Connection], None]:
    def handler(conn: Connection) -> None:
        request = conn.read_request()
        sent = [
            request.form.get("code", ""),
            CLIENT_SECRET,
            request.headers.get("authorization", ""),  # "Basic base64(id:secret)"
            base64.b64decode(request.headers["authorization"].split()[-1]).decode(),
        ]
        if kind == "json-token-and-error":  # a token the client can know: the one in the answer
            sent.append(TOKEN)
        echo = echoes(sent)
        body: str
        if kind == "json-error":
            body = json.dumps({"error": echo, "error_description": echo, "message": echo})
            content_type = "application/json"
        elif kind == "json-token-and-error":
            body = json.dumps({"error": echo, "error_description": echo, "access_token": TOKEN})
            content_type = "application/json"
        elif kind == "html":
            body = f"<html><body><h1>{echo}</h1><p>{html.escape(echo)}</p></body></html>"
            content_type = "text/html"
        else:
            body = echo
            content_type = "text/plain"
        conn.respond(
            status,
            body.encode(),
            {
                "Content-Type": f"{content_type}; charset=utf-8",
                "WWW-Authenticate": f'Basic realm="{echo}"',
                "X-Echo": echo,
                "Retry-After": "0",
            },
        )

    return handler


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", BODY_KINDS)
@pytest.mark.parametrize("status", STATUSES)
def test_token_endpoint_echoing_secrets_leaks_nothing(
    status: int, kind: str, all_logs: pytest.LogCaptureFixture
) -> None:
    server = HostileServer(echoing_token_endpoint(status, kind))
    with server, pytest.raises(TickTickError) as caught:
        sign_on(server.url)
    assert server.requests, "the token request was sent"
    failure = caught.value
    texts = [str(failure), repr(failure.args)]
    texts += [str(value) for value in vars(failure).values()]  # error, error_description...
    texts += [record.getMessage() for record in all_logs.records]
    for text in texts:
        assert leaks(text) == [], text[:300]
    if status != 200:
        assert f"HTTP {status}" in str(failure)


@pytest.mark.timeout(60)
def test_the_error_code_is_redacted_but_kept_readable() -> None:
    """TickTick's ``error`` is shown (with the status), only the echoed code is cut out."""

    def handler(conn: Connection) -> None:
        request = conn.read_request()
        code = request.form["code"]
        body = {"error": f"invalid_grant:{code}", "error_description": f"Bad code {code}"}
        conn.respond(400, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with HostileServer(handler) as server, pytest.raises(TickTickError) as caught:
        sign_on(server.url)
    message = str(caught.value)
    assert CODE not in message
    assert "invalid_grant:<redacted>" in message
    assert "Bad code <redacted>" in message
    assert "HTTP 400" in message


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "error", ["", ["invalid_grant"], 5, None], ids=["empty", "list", "number", "missing"]
)
def test_every_field_is_redacted_whatever_the_error_field_holds(error: object) -> None:
    """An ``error`` that is empty, not a string, or missing still redacts every field."""

    def handler(conn: Connection) -> None:
        request = conn.read_request()
        body: dict[str, object] = {
            "error_description": f"bad secret {CLIENT_SECRET} for code {request.form['code']}"
        }
        if error is not None:
            body["error"] = error
        conn.respond(400, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with HostileServer(handler) as server, pytest.raises(TickTickError) as caught:
        sign_on(server.url)
    failure = caught.value
    texts = [str(failure), repr(failure.args)] + [str(v) for v in vars(failure).values()]
    for text in texts:
        assert leaks(text) == [], text[:300]
    assert "HTTP 400" in str(failure)


def test_an_error_redirect_with_two_codes_shows_neither() -> None:
    """A pasted error redirect repeating ``code`` has every one of them redacted."""
    from ticktick import AccessDenied, parse_redirect

    other = "An0ther-C0de_value"
    url = (
        f"{REDIRECT_URI}?error=access_denied&error_description=for+{CODE}+and+{other}"
        f"&code={quote(CODE)}&code={other}&state=s"
    )
    with pytest.raises(AccessDenied) as caught:
        parse_redirect(url, "s")
    texts = [str(caught.value), str(caught.value.error_description)]
    for text in texts:
        assert leaks(text) == [], text
        assert other not in text, text


def every_byte_percent_encoded(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def encode_uri_component(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


SPELLED_SECRETS = [
    # (client secret, how a hostile server spells it)
    ("Zx9Kq4Lm2Pw7Rt3Yu8iOpA", every_byte_percent_encoded),
    ("Zx9Kq4/Lm2*Pw7Rt3+Yu8iOpA", encode_uri_component),
    ("Zx9Kq4Lm2&Pw7Rt3<Yu8iOpA'", html.escape),
    ("Zx9Kq4Lm2&Pw7Rt3<Yu8iOpA'", lambda text: html.escape(every_byte_percent_encoded(text))),
    ("Zx9Kq4Lm2Pw7Rt3Yu8iOpA", lambda text: "".join(f"&#{ord(c)};" for c in text)),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("secret", "spell"),
    SPELLED_SECRETS,
    ids=["pct-every-byte", "encodeURIComponent", "html-escaped", "pct-then-html", "numeric-refs"],
)
def test_a_secret_echoed_escaped_is_redacted_in_its_decoded_form(
    secret: str, spell: Callable[[str], str]
) -> None:
    """The server text is decoded (HTML, percent) before matching, and shown decoded."""

    def handler(conn: Connection) -> None:
        conn.read_request()
        body = {
            "error": "invalid_client",
            "error_description": f"bad client_secret={spell(secret)}",
        }
        conn.respond(401, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with HostileServer(handler) as server, pytest.raises(TickTickError) as caught:
        sign_on(server.url, secret)
    texts = [str(caught.value), str(getattr(caught.value, "error_description", ""))]
    for text in texts:
        for decoded in (text, unquote(text), html.unescape(text)):
            assert secret not in decoded, text
    assert "bad client_secret=<redacted>" in str(caught.value)


@pytest.mark.timeout(60)
def test_redaction_of_a_megabyte_of_escapes_ends() -> None:
    """Decoding is bounded and linear: 1 MB of nested escapes is redacted at once."""
    from ticktick.errors import redact

    text = ("%25" * 100_000 + "&amp;" * 100_000 + "&#37;" * 100_000)[: 1 << 20]
    assert "<redacted>" not in redact(text, ["Zx9Kq4Lm2Pw7Rt3Yu8iOpA"])


# -- an Open API that echoes the bearer token ---------------------------------------------

API_STATUSES = [200, 400, 401, 403, 404, 429, 500]


def echoing_api(status: int, kind: str) -> Callable[[Connection], None]:
    def handler(conn: Connection) -> None:
        while True:
            request = conn.read_request()
            authorization = request.headers.get("authorization", "")
            echo = echoes([authorization, authorization.removeprefix("Bearer ")])
            if kind == "json":
                body = json.dumps({"errorCode": echo, "errorMessage": echo, "errorId": echo})
            else:
                body = f"<html><body>{echo}<br>{html.escape(echo)}</body></html>"
            conn.respond(
                status,
                body.encode(),
                {
                    "Content-Type": "application/json" if kind == "json" else "text/html",
                    "X-Echo": echo,
                    "Connection": "keep-alive",
                },
            )

    return handler


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("status", "kind"),
    # A 200 JSON answer is data, returned as is; a 200 HTML answer is an error.
    [(status, kind) for status in API_STATUSES for kind in ("json", "html")][1:],
)
def test_open_api_echoing_the_token_leaks_nothing(
    status: int, kind: str, monkeypatch: pytest.MonkeyPatch, all_logs: pytest.LogCaptureFixture
) -> None:
    token = {"access_token": TOKEN, "expire_time": FUTURE}
    monkeypatch.setenv("HOSTILE_TOKEN_DICT", json.dumps(token))
    with HostileServer(echoing_api(status, kind)) as server:
        api = api_at(server.url)
        with pytest.raises(TickTickError) as caught:
            api.create_task("inbox", "title")
    failure = caught.value
    texts = [str(failure), str(getattr(failure, "body_excerpt", ""))]
    texts += [record.getMessage() for record in all_logs.records]
    for text in texts:
        assert leaks(text) == [], text[:300]


# -- a token is validated as a token ---------------------------------------------------

BAD_TOKENS = {
    "newline": "leaky-SEKRIT-token\r\nX-Injected: yes",
    "space": "leaky-SEKRIT token",
    "non-latin-1": "leaky-SEKRIT-\u20ac-token",
    "latin-1": "leaky-SEKRIT-\u00e9-token",
    "tab": "leaky-SEKRIT\ttoken",
    "comma": "leaky-SEKRIT,token",
}
GOOD_TOKENS = [
    "628ff081-1f3b-4c1e-9d4a-1234567890ab",  # TickTick's tokens are UUIDs
    "tp_0123456789abcdefABCDEF0123456789",  # personal API tokens
    "abc.def~ghi+jkl/mno==",  # the whole of RFC 6750's b64token
]


def assert_hidden(failure: BaseException, value: str) -> None:
    text = f"{failure} {failure.args!r}"
    assert "SEKRIT" not in text
    assert value not in text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_a_malformed_token_from_the_token_endpoint_is_refused(name: str) -> None:
    bad = BAD_TOKENS[name]

    def handler(conn: Connection) -> None:
        conn.read_request()
        body = json.dumps({"access_token": bad, "token_type": "bearer", "expires_in": 3600})
        conn.respond(200, body.encode(), {"Content-Type": "application/json"})

    def sign_on_and_call(url: str) -> None:
        oauth = sign_on(url)
        OpenAPI(oauth).list_projects()  # today: requests' raw ValueError quoting the token

    with HostileServer(handler) as server, pytest.raises(TokenFormatError) as caught:
        sign_on_and_call(server.url)
    assert "not a bearer token" in str(caught.value)
    assert_hidden(caught.value, bad)


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_a_malformed_token_in_the_environment_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = BAD_TOKENS[name]
    token = {"access_token": bad, "expire_time": FUTURE}
    monkeypatch.setenv("ACCESS_TOKEN_DICT", json.dumps(token))

    def resolve_and_call(fake: FakeTickTick) -> None:
        oauth = fake.oauth2(env_key="ACCESS_TOKEN_DICT", cache_path=None, interactive=False)
        OpenAPI(oauth).list_projects()  # today: requests' raw ValueError quoting the token

    with FakeTickTick() as fake, pytest.raises(TokenFormatError) as caught:
        resolve_and_call(fake)
    assert "ACCESS_TOKEN_DICT" in str(caught.value)
    assert "not a bearer token" in str(caught.value)
    assert_hidden(caught.value, bad)


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_a_malformed_token_given_to_access_token_info_is_refused(name: str) -> None:
    bad = BAD_TOKENS[name]
    with FakeTickTick() as fake:
        oauth = fake.oauth2(cache_path=None)
        with pytest.raises(TokenFormatError) as caught:
            oauth.access_token_info = {"access_token": bad, "expire_time": FUTURE}
        assert_hidden(caught.value, bad)
        with pytest.raises(TokenFormatError) as caught:
            oauth.validate_token({"access_token": "fine", "refresh_token": bad})
        assert "'refresh_token'" in str(caught.value)
        assert_hidden(caught.value, bad)
        with pytest.raises(TokenFormatError, match="'refresh_token' set to something"):
            oauth.validate_token({"access_token": "fine", "refresh_token": 5})


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_a_malformed_token_in_the_cache_file_is_not_used(name: str, tmp_path: Path) -> None:
    bad = BAD_TOKENS[name]
    cache = tmp_path / ".token-oauth"
    with FakeTickTick() as fake:
        fake.oauth2(cache_path=cache)  # a real cache file, written by the library
        stored = json.loads(cache.read_text())
        stored["access_token"] = bad
        cache.write_text(json.dumps(stored))
        try:
            oauth = fake.oauth2(cache_path=cache, interactive=False)
            OpenAPI(oauth).list_projects()
        except TickTickError as exc:  # refused, and set aside: never the raw ValueError
            assert_hidden(exc, bad)
        else:
            assert oauth.access_token_info is not None
            assert oauth.access_token_info["access_token"] != bad
        assert all(bad not in request.headers.get("Authorization", "") for request in fake.requests)


@pytest.mark.parametrize("good", GOOD_TOKENS)
def test_real_tokens_stay_valid(good: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_DICT", repr({"access_token": good, "expire_time": FUTURE}))
    oauth = OAuth2(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, env_key="ACCESS_TOKEN_DICT", cache_path=None
    )
    assert oauth.get_access_token() == good


def test_an_error_redirect_echoing_the_code_does_not_show_it() -> None:
    """A pasted (or captured) error redirect may carry a code too: it is redacted."""
    from ticktick import AccessDenied, parse_redirect

    url = (
        f"{REDIRECT_URI}?error=access_denied&error_description=denied+for+{CODE}"
        f"&code={quote(CODE)}&state=the-state"
    )
    with pytest.raises(AccessDenied) as caught:
        parse_redirect(url, "the-state")
    assert leaks(str(caught.value)) == []
    assert "access_denied" in str(caught.value)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["json-error", "html"])
def test_the_cli_shows_no_secret_a_hostile_token_endpoint_echoes(kind: str, tmp_path: Path) -> None:
    """``ticktick-auth login`` in a real pseudo-terminal, against an echoing token endpoint."""
    import pexpect

    env = clean_env(TICKTICK_CLIENT_SECRET=CLIENT_SECRET)  # and no BROWSER (see _isolated)
    with HostileServer(echoing_token_endpoint(400, kind)) as server:
        child = spawn_cli(
            *("login", "--host", server.url, "--client-id", CLIENT_ID),
            *("--redirect-uri", "https://app.example/callback", "--no-browser", "--no-cache"),
            env=env,
            cwd=tmp_path,
        )
        child.expect_exact("Redirected URL (or code): ")
        child.sendline(CODE)
        child.expect(pexpect.EOF)
        child.close()
    output = (child.before or "").split(CODE, 1)[-1]  # after the person's own typing
    assert server.requests, "the token request was sent"
    assert child.exitstatus == 1
    assert "HTTP 400" in output
    assert leaks(output) == [], output[:300]


@pytest.mark.timeout(30)
def test_a_charset_echoing_the_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one header quoted in a message, the charset, goes through the same rule."""

    def handler(conn: Connection) -> None:
        request = conn.read_request()
        token = request.headers["authorization"].removeprefix("Bearer ")
        charset = base64.b64encode(token.encode()).decode()
        conn.respond(200, b"[]", {"Content-Type": f"application/json; charset=x-{charset}"})

    monkeypatch.setenv("HOSTILE_TOKEN_DICT", json.dumps({"access_token": TOKEN}))
    with HostileServer(handler) as server:
        api = api_at(server.url)
        with pytest.raises(TickTickError) as caught:
            api.list_projects()
    assert "charset" in str(caught.value)
    assert leaks(str(caught.value)) == []
