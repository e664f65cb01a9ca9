"""Hostile input, fuzzed with Hypothesis: only the documented typed errors come out.

Seeded (derandomized) so a run is reproducible; TICKTICK_FUZZ_EXAMPLES sets how many
examples each target gets: 300 in ``make test`` (a fast profile), 10,000 in ``make fuzz``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from hostile import Connection, HostileServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticktick import (
    OAuth2,
    OAuthError,
    OpenAPI,
    RateLimited,
    RedirectParseError,
    StateMismatch,
    TickTickError,
    TokenDict,
    TokenFormatError,
    cli,
    parse_redirect,
    requests_retry_session,
)
from ticktick._http.session import RETRY_AFTER_MAX
from ticktick.exchange import _token_or_error
from ticktick.stores import EnvSource, FileStore, TokenIdentity
from ticktick.token import parse_token_literal

EXAMPLES = int(os.environ.get("TICKTICK_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECRET = "SeCrEt-7f3a9c1e"  # planted in inputs; must never appear in a message

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
token_like = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.one_of(st.just(SECRET), json_values),
        "expire_time": json_values,
        "expires_in": json_values,
        "issued_at": json_values,
        "token_type": st.one_of(st.sampled_from(["bearer", "Bearer", "mac"]), json_values),
        "scope": json_values,
    },
)
literal_text = st.one_of(
    st.text(max_size=200),
    token_like.map(repr),
    token_like.map(lambda value: json.dumps(value, default=str)),
    st.text(max_size=80).map(lambda noise: f"{{'access_token': '{SECRET}'{noise}"),
)


def _check_message(exc: BaseException, names: str = "") -> None:
    assert SECRET not in str(exc)
    assert names in str(exc)


@FUZZ
@given(literal_text)
def test_environment_value(value: str) -> None:
    value = value.replace("\x00", "")
    os.environ["TICKTICK_FUZZ_VAR"] = value
    try:
        token = EnvSource("TICKTICK_FUZZ_VAR").read()
    except TokenFormatError as exc:
        _check_message(exc, names="TICKTICK_FUZZ_VAR")
        return
    finally:
        del os.environ["TICKTICK_FUZZ_VAR"]
    assert token is None or isinstance(token, TokenDict)
    if token is not None:
        assert isinstance(token["access_token"], str)
        assert SECRET not in repr(token)


@FUZZ
@given(st.one_of(st.binary(max_size=300), literal_text.map(str.encode)))
def test_cache_file_content(tmp_path_factory: Any, content: bytes) -> None:
    folder = Path(tmp_path_factory.mktemp("cache"))
    path = folder / ".token-oauth"
    path.write_bytes(content)
    path.chmod(0o600)
    token = FileStore(path, identity=TokenIdentity("ticktick.com", "cid", "tasks:read")).read()
    assert token is None or isinstance(token, TokenDict)
    aside = list(folder.glob(".token-oauth.corrupt-*"))
    for file in aside:
        assert file.read_bytes() == content  # nothing lost


mismatch_text = st.builds(
    lambda sent, registered, around: (
        f"{around}Invalid redirect: {sent} does not match one of the registered values: "
        f"[{', '.join(registered)}]{around}"
    ),
    st.one_of(st.just("http://127.0.0.1:9000/"), st.text(max_size=30)),
    st.lists(st.one_of(st.just("http://127.0.0.1:8080/"), st.text(max_size=30)), max_size=4),
    st.text(max_size=10),
)
pasted = st.one_of(
    st.text(max_size=120),
    mismatch_text,
    st.builds(
        lambda query: f"http://127.0.0.1:8080/?{query}",
        st.lists(
            st.tuples(
                st.sampled_from(["code", "state", "error", "error_description", "x"]),
                st.text(max_size=20),
            ),
            max_size=5,
        ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
    ),
)


@FUZZ
@given(pasted)
def test_pasted_redirect(text: str) -> None:
    try:
        code = parse_redirect(text, "expected-state")
    except (RedirectParseError, StateMismatch, OAuthError):
        return
    assert isinstance(code, str)
    assert code


@FUZZ
@given(mismatch_text)
def test_pasted_redirect_mismatch(text: str) -> None:
    """Only printable ASCII http(s) URLs come out of TickTick's mismatch text, escaped."""
    from ticktick.endpoints import find_redirect_mismatch, redirect_uri_advice
    from ticktick.errors import speak_in_flags

    mismatch = find_redirect_mismatch(text)
    if mismatch is None:
        return
    for uri in (*mismatch.registered, mismatch.sent):
        assert uri.isascii()
        assert uri.isprintable()
        assert " " not in uri
        assert "'" not in uri
    for flags in (None, {"redirect_uri": "--redirect-uri"}):
        speaking = speak_in_flags(flags)
        try:
            advice = redirect_uri_advice(mismatch.sent, mismatch.registered)
        finally:
            speak_in_flags(speaking)
        assert advice.isprintable()


@FUZZ
@given(
    st.sampled_from([200, 201, 400, 401, 403, 429, 500, 503]),
    st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        token_like.map(lambda value: json.dumps(value, default=str).encode()),
    ),
)
def test_token_response_body(status: int, body: bytes) -> None:
    try:
        token = _token_or_error(status, body, "https://ticktick.com/oauth/token", (SECRET,))
    except (OAuthError, TokenFormatError) as exc:
        _check_message(exc)
        return
    assert 200 <= status < 300
    assert isinstance(token["access_token"], str)
    assert isinstance(token["expire_time"], int)


@FUZZ
@given(literal_text)
def test_literal_parser_never_echoes(text: str) -> None:
    try:
        parse_token_literal(text, source="The value", advice="")
    except TokenFormatError as exc:
        _check_message(exc)


# -- the Open API's answers, through the real OpenAPI and a raw-socket server ------------

_TOKEN = "tok-" + SECRET


class _Scripted:
    """One raw-socket server for the whole target; each example sets the next answer."""

    def __init__(self) -> None:
        self.answer = b""
        self.server = HostileServer(self._serve)

    def _serve(self, conn: Connection) -> None:
        conn.read_request()
        conn.send(self.answer)


_scripted: _Scripted | None = None


def _scripted_api() -> tuple[_Scripted, OpenAPI]:
    global _scripted
    if _scripted is None:
        _scripted = _Scripted()
    oauth = OAuth2(
        "cid",
        "csecret",
        "http://127.0.0.1:9/",
        host=_scripted.server.url,
        cache_path=None,
        resolve=False,
        interactive=False,
        timeout=(2, 2),
    )
    oauth.access_token_info = {"access_token": _TOKEN, "expire_time": 4_000_000_000}
    return _scripted, OpenAPI(oauth, session=requests_retry_session(retries=0, timeout=(2, 2)))


header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.sampled_from(
        [
            "1",
            "0",
            "-5",
            "1e999",
            "nan",
            "soon",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 99 Foo 20 ab:cd",
            "999999999999",
        ]
    ),
)
charsets = st.one_of(
    st.sampled_from(["utf-8", "latin-1", "x-bogus", "utf-32", "", "utf-8;", '"utf-8"']),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12),
)
api_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b'{"errorCode": "exceed_query_limit"}',
            b'{"errorId": "exceed_query_limit", "errorMessage": "slow"}',
            f'{{"error": "{_TOKEN}"}}'.encode(),
            b"<html><body>HTTP Status 401</body></html>",
        ]
    ),
)


def _check_api_error(exc: TickTickError) -> None:
    _check_message(exc)
    assert _TOKEN not in str(exc)
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        assert 0 <= exc.retry_after <= RETRY_AFTER_MAX


@FUZZ
@given(
    st.sampled_from(["GET", "POST"]),
    st.sampled_from([200, 201, 204, 400, 401, 403, 404, 429, 500, 503]),
    charsets,
    st.one_of(st.none(), header_values),
    api_bodies,
)
def test_api_response(
    method: str, status: int, charset: str, retry_after: str | None, body: bytes
) -> None:
    scripted, api = _scripted_api()
    headers = [
        f"HTTP/1.1 {status} X",
        f"Content-Length: {len(body)}",
        "Connection: close",
        f"Content-Type: application/json; charset={charset}",
    ]
    if retry_after is not None:
        headers.append(f"Retry-After: {retry_after}")
    scripted.answer = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body
    try:
        api.request(method, "/project", {"name": "x"} if method == "POST" else None)
    except TickTickError as exc:
        _check_api_error(exc)
        return
    assert 200 <= status < 300


# -- the command line's arguments ---------------------------------------------------------

_options = st.sampled_from(
    [
        "--host",
        "--cache-path",
        "--env-key",
        "--client-id",
        "--scope",
        "--store",
        "--redis-url",
        "--timeout",
        "--min-days",
        "--format",
        "--output",
        "--output-file",
        "--redirect-uri",
        "--debug",
        "--no-cache",
        "--no-browser",
        "--no-capture",
        "--help",
        "--version",
        "--force",
    ]
)
_values = st.one_of(
    st.text(max_size=20).map(lambda text: text.replace("\x00", "")),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-1",
            "0",
            "1e999",
            "ticktick.com",
            "https://TickTick.com/",
            "http://127.0.0.1:9",
            "file",
            "File",
            "redis",
            "keyring",
            "json",
            "dotenv",
            "redis://:x",
            "redis://127.0.0.1:99999",
            "http://foo",
            "",
        ]
    ),
)


@FUZZ
@given(
    st.sampled_from(["token", "status", "export", "logout", "login", "bogus"]),
    st.lists(
        st.one_of(
            _options,
            _values,
            st.sampled_from(["--timeout", "--min-days"]).flatmap(
                lambda option: st.sampled_from(["nan", "inf", "-1", "0", "1e999", "2"]).map(
                    lambda value: f"{option}={value}"
                )
            ),
        ),
        max_size=6,
    ),
)
def test_cli_arguments(tmp_path_factory: Any, command: str, rest: list[str]) -> None:
    folder = Path(tmp_path_factory.mktemp("cli"))
    os.environ.pop("TICKTICK_CLIENT_SECRET", None)
    argv = [command, "--cache-path", str(folder / ".token-oauth")]
    if command == "login":  # never a sign-on: no client secret and no terminal to ask for one
        argv += ["--no-browser", "--timeout", "1"]
    argv += rest
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
        except TickTickError:
            code = 1  # --debug shows the traceback of a failure: that is what it is for
            assert "--debug" in argv
    assert code in (0, 1, 2, 3)
    option = {"login": "--timeout", "status": "--min-days"}.get(command)
    number = _last_number(argv, option) if option else None
    lowest_valid = 0.0 if command == "status" else math.ulp(0)
    if number is not None and not lowest_valid <= number < math.inf:
        assert code == 2, f"{option} {number!r} must be a usage error"


def _last_number(argv: list[str], option: str) -> float | None:
    """The number the last *option* in *argv* gives, if argparse would read one."""
    if "--help" in argv or "--version" in argv:
        return None
    value = None
    for index, word in enumerate(argv):
        if word == option and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith(option + "="):
            value = word.partition("=")[2]
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
