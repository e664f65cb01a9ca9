"""Parsing and validating token dicts."""

from __future__ import annotations

import json
import time

import pytest

from ticktick import TokenDict, TokenFormatError
from ticktick.token import (
    MAX_LITERAL_SIZE,
    is_expired,
    parse_token_literal,
    token_from_response,
    validate_token_dict,
)

SECRET_TOKEN = "628ff081-5331-4a37-8ddk-021974c9f43g"
TICKTICK_PY_LITERAL = (
    "{'access_token': '628ff081-5331-4a37-8ddk-021974c9f43g', 'token_type': 'bearer', "
    "'expires_in': 14772375, 'scope': 'tasks:read tasks:write', 'expire_time': 1637192935, "
    "'readable_expire_time': 'Wed Nov 17 15:48:55 2021'}"
)


def parse(text: str) -> TokenDict:
    return parse_token_literal(text, source="The variable X", advice="Fix X.")


def test_ticktick_py_dict_literal_loads() -> None:
    token = parse(TICKTICK_PY_LITERAL)
    assert token["access_token"] == SECRET_TOKEN
    assert token["expire_time"] == 1637192935
    assert token["readable_expire_time"] == "Wed Nov 17 15:48:55 2021"


def test_json_loads() -> None:
    token = parse(json.dumps({"access_token": "abc", "expire_time": 2000000000}))
    assert token["access_token"] == "abc"
    assert "readable_expire_time" in token


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("['not', 'a', 'dict']", "is a list, not a dict"),
        ("{'token_type': 'bearer'}", "has no 'access_token' string"),
        ("{'access_token': ''}", "has no 'access_token' string"),
        ("{'access_token': 42}", "has no 'access_token' string"),
        (f"{{'access_token': '{SECRET_TOKEN}', 'expire_time': 'soon'}}", "'expire_time'"),
        (f"{{'access_token': '{SECRET_TOKEN}', 'expire_time': True}}", "'expire_time'"),
        (f"{{'access_token': '{SECRET_TOKEN}', 'expire_time': -5}}", "'expire_time'"),
        (f"{{'access_token': '{SECRET_TOKEN}', 'expires_in': '1d'}}", "'expires_in'"),
        (f"{{'access_token': '{SECRET_TOKEN}', 'token_type': 'mac'}}", "'token_type'"),
        (f"{{'access_token': '{SECRET_TOKEN}', 1: 2}}", "key that is not a string"),
        (f"{{'access_token': '{SECRET_TOKEN}'", "neither JSON nor a Python dict literal"),
        (f"__import__('os').system('echo {SECRET_TOKEN}')", "neither JSON nor"),
    ],
)
def test_malformed_values_name_the_problem_never_the_value(text: str, problem: str) -> None:
    with pytest.raises(TokenFormatError) as caught:
        parse(text)
    message = str(caught.value)
    assert problem in message
    assert message.startswith("The variable X")
    assert message.endswith("Fix X.")
    assert SECRET_TOKEN not in message
    assert caught.value.__cause__ is None


def test_deep_nesting_is_a_format_error() -> None:
    with pytest.raises(TokenFormatError):
        parse("[" * 5000 + "]" * 5000)


def test_size_limit() -> None:
    padding = "x" * MAX_LITERAL_SIZE
    with pytest.raises(TokenFormatError, match="characters long"):
        parse(f"{{'access_token': 'a', 'pad': '{padding}'}}")


def test_expires_in_with_issued_at_gives_expiry() -> None:
    token = parse("{'access_token': 'a', 'expires_in': 100, 'issued_at': 1700000000}")
    assert token["expire_time"] == 1700000100


def test_expires_in_alone_leaves_expiry_unknown() -> None:
    token = parse("{'access_token': 'a', 'expires_in': 100}")
    assert "expire_time" not in token
    assert not is_expired(token, 60)


def test_is_expired_uses_the_margin() -> None:
    now = 1_000_000.0
    assert is_expired({"expire_time": now + 59}, 60, now=now)
    assert not is_expired({"expire_time": now + 61}, 60, now=now)
    assert is_expired({"expire_time": time.time() - 1}, 0)


def test_repr_hides_the_token() -> None:
    token = validate_token_dict(
        {"access_token": SECRET_TOKEN, "refresh_token": "r-secret-value", "scope": "tasks:read"},
        source="x",
        advice="",
    )
    for text in (repr(token), str(token), f"{token}", repr([token])):
        assert SECRET_TOKEN not in text
        assert "r-secret-value" not in text
        assert "<redacted>" in text
    assert "tasks:read" in repr(token)
    assert json.loads(json.dumps(token))["access_token"] == SECRET_TOKEN


def test_response_gets_expire_fields() -> None:
    token = token_from_response(
        {"access_token": "a", "token_type": "Bearer", "expires_in": 100, "scope": "s"},
        now=1000,
    )
    assert token["expire_time"] == 1100
    assert token["readable_expire_time"] == time.asctime(time.localtime(1100))


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "a", "token_type": "bearer"},
        {"access_token": "a", "expires_in": "100"},
        {"access_token": "a", "expires_in": True},
        {"access_token": "a", "expires_in": 0},
        {"access_token": "a", "expires_in": 100, "token_type": "mac"},
        {"expires_in": 100},
        ["access_token"],
    ],
)
def test_bad_responses_are_rejected(body: object) -> None:
    with pytest.raises(TokenFormatError, match="token endpoint"):
        token_from_response(body)


@pytest.mark.parametrize(
    "text",
    [
        "{'access_token': 'a', 'expire_time': 1e300}",
        '{"access_token": "a", "expire_time": Infinity}',
        '{"access_token": "a", "expire_time": NaN}',
        "{'access_token': 'a', 'expires_in': 1000000000000000, 'issued_at': 0}",
        "{'access_token': 'a', 'expires_in': 253402300000, 'issued_at': 253402300000}",
    ],
)
def test_absurd_times_are_format_errors_not_crashes(text: str) -> None:
    """Found by the fuzzer: such values crashed time.localtime()."""
    with pytest.raises(TokenFormatError, match=r"seconds|year 9999"):
        parse(text)


def test_absurd_expires_in_in_a_response() -> None:
    with pytest.raises(TokenFormatError, match="year 9999"):
        token_from_response({"access_token": "a", "expires_in": 253402300000}, now=10**9)
