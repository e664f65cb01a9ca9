"""Found by the second outside attack on issue 12; each case failed before its fix."""

from __future__ import annotations

import contextlib
import importlib
import time
from typing import Any

import pytest

from ticktick import ConfigurationError, OAuth2
from ticktick.errors import excerpt, redact
from ticktick.stores import FileStore, MemoryStore, TokenStore

# -- a store given to OAuth2 -----------------------------------------------------------------


class OwnStore:
    """A store of one's own that follows the interface without inheriting from it."""

    identity = None
    read_only = False

    def __init__(self) -> None:
        self.token: dict[str, Any] | None = {
            "access_token": "a" * 20,
            "token_type": "bearer",
            "scope": "tasks:read tasks:write",
            "expire_time": int(time.time()) + 100 * 86400,
        }

    def read(self) -> dict[str, Any] | None:
        return self.token

    def write(self, token: Any) -> None:
        self.token = dict(token)

    def delete(self) -> bool:
        self.token = None
        return True

    def discard(self, access_token: str) -> bool:
        return False

    def lock(self, timeout: float) -> Any:
        return contextlib.nullcontext()

    def describe(self) -> str:
        return "own store"


TokenStore.register(OwnStore)


def test_a_registered_store_without_the_newer_methods_still_works() -> None:
    store: Any = OwnStore()
    oauth = OAuth2("cid", "sec", "http://127.0.0.1:8080/", store=store, interactive=False)
    assert oauth.get_access_token() == "a" * 20
    assert store.identity == oauth.identity
    assert "--output env-dict" in oauth.login_command()


class LdapStore(MemoryStore):
    """A store whose backend's login is called bind() (LDAP's word), as stores may have."""

    def __init__(self) -> None:
        super().__init__()
        self.bound_as: str | None = None

    def bind(self, dn: str = "cn=app") -> None:
        self.bound_as = dn


def test_a_store_with_a_bind_method_of_its_own_is_bound_all_the_same() -> None:
    store = LdapStore()
    oauth = OAuth2("cid", "sec", "http://127.0.0.1:8080/", store=store, resolve=False)
    assert store.bound_as is None
    assert store.identity == oauth.identity


@pytest.mark.parametrize(
    "bad", [{"signon_timeout": -1}, {"signon_timeout": float("nan")}, {"expiry_margin": -5}]
)
def test_a_refused_client_does_not_bind_the_store(bad: dict[str, float]) -> None:
    store = MemoryStore()
    with pytest.raises(ConfigurationError):
        OAuth2("typo-id", "sec", "http://127.0.0.1:8080/", store=store, resolve=False, **bad)  # type: ignore[arg-type]
    assert store.identity is None
    OAuth2("cid", "sec", "http://127.0.0.1:8080/", store=store, resolve=False)


def test_a_thread_holding_a_files_lock_writes_through_another_store_of_it(tmp_path: Any) -> None:
    one = FileStore(tmp_path / "cache", lock_timeout=1)
    two = FileStore(tmp_path / "cache", lock_timeout=1)
    with one.lock(1):  # the same file's lock: this thread enters it again, not waits for itself
        two.write({"access_token": "x" * 20, "expire_time": int(time.time()) + 999})
    assert one.read() is not None


# -- former names ------------------------------------------------------------------------------

FORMER_NAMES = {
    "ticktick.store": [
        "LEGACY_HOST",
        "MAX_CACHE_SIZE",
        "normalize_scope",
        "encode_token",
        "decode_token",
        "check_identity",
        "write_private_file",
        "is_temporary_of",
        "open_checked",
        "file_problem",
        "temporary_name",
    ],
    "ticktick.signon": [
        "AuthorizationTimeout",
        "ReauthorizationRequired",
        "RedirectParseError",
        "StateMismatch",
    ],
}


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in FORMER_NAMES.items() for n in names]
)
def test_names_of_the_former_modules_still_import(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)


# -- redaction ------------------------------------------------------------------------------

SECRET = "Zq8vK2mP4xR7tW1yB5nD"


def test_redaction_leaves_text_without_a_secret_as_it_came() -> None:
    text = r"path C:\new\u00e9t\u0041 is bad"
    assert redact(text, ["client-secret-value"]) == text


def test_an_excerpt_turns_no_escape_text_into_control_characters() -> None:
    text = excerpt("<p>bad \\u001b[2J thing</p>", ["client-secret-value"])
    assert "\x1b" not in text


@pytest.mark.parametrize("split", ["<wbr>", "&shy;", "&#8203;", "<span></span>", "<!-- -->"])
def test_an_excerpt_hides_a_secret_split_by_markup_that_shows_nothing(split: str) -> None:
    body = f"<p>you sent client_secret={SECRET[:10]}{split}{SECRET[10:]}</p>"
    text = excerpt(body, [SECRET])
    for invisible in (" ", "\xad", "\u200b"):
        text = text.replace(invisible, "")
    assert SECRET not in text
    assert "<redacted>" in text


def test_an_excerpt_keeps_the_redaction_marker() -> None:
    text = excerpt(f"you sent client_secret={SECRET} ok", [SECRET])
    assert text == "you sent client_secret=<redacted> ok"


def test_an_excerpt_still_reads_blocks_as_separate_words() -> None:
    assert excerpt("<p>Hello</p><p>World</p>", [SECRET]) == "Hello World"
