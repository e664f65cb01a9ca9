"""Values as people paste them: ``ACCESS_TOKEN_DICT`` and the pasted redirect.

The variable is read by the real `OAuth2` from the real environment. It loads when
wrapped in one pair of matching quotes (as ``docker --env-file`` and many CI settings
pages keep the ``ACCESS_TOKEN_DICT='{...}'`` line ``ticktick-auth export --format
dotenv`` prints) or when it starts with a UTF-8 byte order mark; the ticktick-py
docs' example literal (a date string without its key) gets a message saying what is
wrong and where, never the value.

A pasted redirect URL must carry the ``state`` that was sent; a bare code stays
accepted. These run the real `SignOn` paste path against the fake TickTick.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from helpers import run_cli, write_cache

from ticktick import OAuth2, RedirectParseError, SignOn, TokenFormatError
from ticktick.signon import AuthorizationRequest
from ticktick.testing import FakeTickTick
from ticktick.testing.server import approve

TOKEN = "628ff081-1f3b-4c1e-9d4a-1234567890ab"
EXPIRE_TIME = int(time.time()) + 90 * 86400
AS_JSON = json.dumps({"access_token": TOKEN, "token_type": "bearer", "expire_time": EXPIRE_TIME})
AS_LITERAL = repr({"access_token": TOKEN, "token_type": "bearer", "expire_time": EXPIRE_TIME})


def resolve_from(value: str, monkeypatch: pytest.MonkeyPatch) -> OAuth2:
    """An `OAuth2` that resolves from ``ACCESS_TOKEN_DICT`` set to *value*."""
    monkeypatch.setenv("ACCESS_TOKEN_DICT", value)
    return OAuth2(
        "client-id",
        "client-secret",
        "http://127.0.0.1:8080/",
        env_key="ACCESS_TOKEN_DICT",
        cache_path=None,
        interactive=False,
    )


@pytest.mark.parametrize(
    "value",
    [
        f"'{AS_JSON}'",
        f'"{AS_LITERAL}"',
        f"'{AS_LITERAL}'",  # quotes inside quotes: no shell would keep it, docker does
        f"  '{AS_JSON}'\n",
        f"\ufeff{AS_JSON}",
        f"\ufeff{AS_LITERAL}",
        f"\ufeff'{AS_JSON}'",
        f"'\ufeff{AS_JSON}'",  # a BOM-prefixed file's content, pasted between quotes
        f'"\ufeff{AS_LITERAL}"',
        f"\ufeff' \ufeff{AS_JSON} '",
        json.dumps(AS_JSON),  # a JSON string holding the dict, escapes and all
        json.dumps("\ufeff" + AS_JSON),
    ],
    ids=[
        "json-in-single-quotes",
        "literal-in-double-quotes",
        "literal-in-single-quotes",
        "quoted-with-whitespace",
        "bom-json",
        "bom-literal",
        "bom-quoted",
        "bom-inside-single-quotes",
        "bom-inside-double-quotes",
        "bom-outside-and-inside",
        "json-string",
        "json-string-with-bom",
    ],
)
def test_a_pasted_variable_loads(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    oauth = resolve_from(value, monkeypatch)
    assert oauth.get_access_token() == TOKEN
    assert oauth.access_token_info is not None
    assert oauth.access_token_info["expire_time"] == EXPIRE_TIME


@pytest.mark.timeout(120)
def test_the_dotenv_export_loads_as_docker_env_file_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``export --format dotenv`` output, read as ``docker --env-file`` reads it (quotes kept)."""
    cache = tmp_path / ".token-oauth"
    write_cache(cache, json.loads(AS_JSON), client_id="client-id")
    env = {key: value for key, value in os.environ.items() if key != "ACCESS_TOKEN_DICT"}
    result = run_cli("export", "--format", "dotenv", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    name, _, value = line.partition("=")  # docker: the rest of the line, quotes and all
    assert name == "ACCESS_TOKEN_DICT"
    assert value.startswith("'")
    cache.unlink()
    assert resolve_from(value, monkeypatch).get_access_token() == TOKEN


TICKTICK_PY_EXAMPLE = (
    "{'access_token': '" + TOKEN + "', 'token_type': 'bearer', 'expires_in': 15551999, "
    "'scope': 'tasks:read tasks:write', 'expire_time': 1637192935, 'Wed Nov 17 15:48:55 2021'}"
)


@pytest.mark.parametrize("wrapped", ["{}", "'{}'", "\ufeff{}"])
def test_the_ticktick_py_example_says_what_is_wrong_and_where(
    wrapped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = wrapped.replace("{}", TICKTICK_PY_EXAMPLE)
    position = value.index("'Wed Nov") + 1
    with pytest.raises(TokenFormatError) as caught:
        resolve_from(value, monkeypatch)
    message = str(caught.value)
    assert f"a value without a key at character {position}" in message
    assert "ACCESS_TOKEN_DICT" in message
    assert TOKEN not in message
    assert "Wed Nov" not in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{'access_token': 'x',, 'expire_time': 1}", "cannot be read at character 22"),
        ("{'access_token': os.system('id')}", "something other than plain values"),
        ("'just a string'", "is a quoted string with no dict inside the quotes"),
        ("'\ufeffjust a string'", "is a quoted string with no dict inside the quotes"),
        ("'{'", "cannot be read"),
        ("[1, 2,, 3]", "cannot be read at character 7"),
        ("{'a': [1, (2, 3)], 'b': {'c': 1}, 'access_token' 'x'}", "without a key at character 35"),
        (
            "{'a': [1, (2, 3)], 'b': {'c': 1},  # a comment\n 'Wed Nov 17 15:48:55 2021'}",
            "a value without a key at character 49",
        ),
    ],
)
def test_other_unreadable_values_never_repeat_the_value(
    value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TokenFormatError, match=expected) as caught:
        resolve_from(value, monkeypatch)
    assert value not in str(caught.value)


# -- the pasted redirect ------------------------------------------------------------------


def paste_session(
    fake: FakeTickTick, pastes: list[str], output: io.StringIO
) -> tuple[OAuth2, list[str]]:
    """An `OAuth2` whose sign-on reads *pastes* in turn, each with ``{code}`` and
    ``{state}`` filled in from a real consent on the fake server."""
    asked: list[str] = []

    def authorizer(request: AuthorizationRequest) -> str:
        code = approve(request)  # the person clicks Allow; the browser shows the redirect

        def read_line(prompt: str, timeout: float, cancelled: object) -> str:
            asked.append(prompt)
            return pastes[len(asked) - 1].format(
                code=code, state=request.state, uri=request.redirect_uri
            )

        sign_on = SignOn(capture=False, paste=True, open_browser=False, read_line=read_line)
        sign_on.output = output
        return sign_on(request)

    return fake.oauth2(cache_path=None, authorizer=authorizer), asked


def test_a_pasted_url_without_state_is_refused_and_a_bare_code_accepted() -> None:
    output = io.StringIO()
    with FakeTickTick() as fake:
        oauth, asked = paste_session(fake, ["{uri}?code={code}", "{code}"], output)
        assert oauth.access_token_info is not None
        assert len(asked) == 2  # the URL without state was refused, the bare code taken
        assert fake.token_requests == 1
    assert "no 'state'" in output.getvalue()


@pytest.mark.parametrize(
    "paste", ["{uri}?code={code}", "?code={code}", "code={code}", "{uri}#code={code}"]
)
def test_a_url_without_state_is_never_exchanged(paste: str) -> None:
    output = io.StringIO()
    with FakeTickTick() as fake:
        with pytest.raises(RedirectParseError, match="no 'state'"):
            paste_session(fake, [paste] * 3, output)
        assert fake.token_requests == 0


@pytest.mark.parametrize("paste", ["{uri}?code={code}&state={state}", "code={code}&state={state}"])
def test_a_url_with_the_state_is_accepted(paste: str) -> None:
    with FakeTickTick() as fake:
        oauth, asked = paste_session(fake, [paste], io.StringIO())
        assert oauth.access_token_info is not None
        assert len(asked) == 1
