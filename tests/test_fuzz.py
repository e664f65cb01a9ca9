"""Hostile input, fuzzed with Hypothesis: only the documented typed errors come out.

Seeded (derandomized) so a run is reproducible; TICKTICK_FUZZ_EXAMPLES sets how many
examples each target gets (default 1500).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticktick import (
    OAuthError,
    RedirectParseError,
    StateMismatch,
    TokenDict,
    TokenFormatError,
    parse_redirect,
)
from ticktick.exchange import _token_or_error
from ticktick.store import EnvSource, FileStore, TokenIdentity
from ticktick.token import parse_token_literal

EXAMPLES = int(os.environ.get("TICKTICK_FUZZ_EXAMPLES", "1500"))
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


pasted = st.one_of(
    st.text(max_size=120),
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
