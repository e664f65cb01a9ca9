"""Secrets echoed inside a larger encoded blob are redacted (the one rule in ticktick.errors).

A server may echo the whole request it was sent, encoded as one piece: base64 or hex
of the whole request, or JSON with every ``a`` written ``\\u0061``. The secrets in it
(the code in the form body, the client secret inside the Basic header, a bearer
token) then sit at any alignment inside the blob. Hostile servers of our own echo
the real requests; what is shown is searched by decoding every blob at every
alignment, independently of the library's spellings.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import ApiFor
from hostile import Connection, HostileServer
from leak_audit import Secrets, find_leaks

from ticktick import OAuth2, TickTickError
from ticktick.errors import SPELLING_GROWTH, excerpt, redact, spellings

CLIENT_ID = "client-id-1"
CLIENT_SECRET = "S3cr3t-client-secret-value-0123456789"
CODE = "authcode-ABCDEFGHIJKLMNOP"
API_TOKEN = "api-token-from-env"  # the api_for fixture's token

ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "raw": lambda raw: raw.decode("latin-1"),
    "base64": lambda raw: base64.b64encode(raw).decode(),
    "base64-urlsafe": lambda raw: base64.urlsafe_b64encode(raw).decode(),
    "hex": lambda raw: binascii.hexlify(raw).decode(),
    "HEX": lambda raw: binascii.hexlify(raw).decode().upper(),
    "percent": lambda raw: quote(raw.decode("latin-1"), safe=""),
    "json-unicode-escaped": lambda raw: (
        json.dumps(raw.decode("latin-1")).replace("a", "\\u0061").replace("/", "\\/")
    ),
}


def _decodings(blob: str) -> list[bytes]:
    """*blob* decoded as base64 (both alphabets) or hex, from each of its first characters."""
    found: list[bytes] = []
    for start in range(3):
        part = blob[start:]
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(binascii.Error):
                found.append(decode(part + "=" * (-len(part) % 4)))
        with contextlib.suppress(binascii.Error):
            found.append(binascii.unhexlify(part[: len(part) // 2 * 2]))
    return found


def leaked(shown: str, secrets: list[str]) -> list[str]:
    """The secrets of which *shown* holds the middle part, plainly or in a decoded blob.

    The middle (all but 4 characters at each end) is looked for: a blob cut at a
    redaction marker may still hold a few bits of a secret's ends.
    """
    texts = [shown, re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), shown)]
    for text in list(texts):
        for blob in re.findall(r"[A-Za-z0-9+/=_-]{16,}", text):
            texts += [data.decode("latin-1") for data in _decodings(blob)]
    return [secret[:4] for secret in secrets if any(secret[4:-4] in text for text in texts)]


def echo_of_each_request(
    encode: Callable[[bytes], str], status: int
) -> Callable[[Connection], None]:
    """A server answering every request with the whole request, encoded, as its error.

    Its ``Authorization`` header comes first, as if the server named what it refused:
    an excerpt cut to its first 200 characters still holds it.
    """

    def handler(conn: Connection) -> None:
        while True:
            request = conn.read_request()
            credential = request.headers.get("authorization", "")
            echo = encode(f"Authorization: {credential}\r\n".encode("latin-1") + request.raw)
            body = {"error": "invalid_request", "error_description": echo, "errorMessage": echo}
            conn.respond(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    return handler


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ENCODINGS)
def test_a_token_request_echoed_whole_shows_no_secret(
    kind: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    with HostileServer(echo_of_each_request(ENCODINGS[kind], 400)) as server:
        oauth = OAuth2(
            CLIENT_ID,
            CLIENT_SECRET,
            "http://127.0.0.1:8080/",
            host=server.url,
            cache_path=tmp_path / "cache",
            resolve=False,
        )
        with pytest.raises(TickTickError) as caught:
            oauth.exchange_code(CODE)
    shown = f"{caught.value}\n{caught.value.__dict__}\n{caplog.text}"
    assert "<redacted>" in str(caught.value)
    assert not leaked(shown, [CLIENT_SECRET, CODE]), shown[:1500]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ENCODINGS)
def test_an_api_request_echoed_whole_shows_no_token(
    kind: str, api_for: ApiFor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with HostileServer(echo_of_each_request(ENCODINGS[kind], 400)) as server:
        api = api_for(server)
        with pytest.raises(TickTickError) as caught:
            api.list_projects()
    shown = f"{caught.value}\n{caught.value.__dict__}\n{caplog.text}"
    assert not leaked(shown, [API_TOKEN]), shown[:1500]


# -- the rule itself ----------------------------------------------------------------------

SECRETS = [
    CLIENT_SECRET,
    "Cl13nt/S3cr3t+with=odd&chars",
    "sp ace\u00e9\U0001f600-end",
    "short-secret",
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_a_secret_at_any_alignment_inside_base64_is_redacted(
    secret: str, encode: Callable[[bytes], bytes]
) -> None:
    raw = secret.encode()
    for before in range(7):
        for after in range(4):
            blob = encode(os.urandom(before) + raw + os.urandom(after)).decode()
            shown = redact(f"echo: {blob}!", [secret])
            assert "<redacted>" in shown
            assert not leaked(shown, [secret]), (before, after, shown)


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_as_hex_of_either_case_is_redacted(secret: str) -> None:
    hexed = secret.encode().hex()
    assert {hexed, hexed.upper()} <= spellings(secret)
    for text in (hexed, hexed.upper(), f"00{hexed}ff"):
        assert redact(text, [secret]).count("<redacted>") == 1


def utf16_units(text: str) -> list[int]:
    """The UTF-16 code units of *text*, as JSON's ``\\uXXXX`` escapes write them."""
    data = text.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@pytest.mark.parametrize(
    "escape",
    [
        lambda text: "".join(f"\\u{unit:04x}" for unit in utf16_units(text)),
        lambda text: "".join(f"\\u{ord(c):04X}" if c in "aeiou/" else c for c in text),
        lambda text: json.dumps(text, ensure_ascii=True)[1:-1].replace("/", "\\/"),
        lambda text: quote(
            json.dumps(text, ensure_ascii=False)[1:-1].replace("e", "\\u0065"), safe=""
        ),
    ],
    ids=["every-char", "some-chars", "json-ascii", "then-percent"],
)
@pytest.mark.parametrize("secret", SECRETS[:3])
def test_json_unicode_escapes_are_undone_before_matching(
    secret: str, escape: Callable[[str], str]
) -> None:
    shown = redact(f"said: {escape(secret)}.", [secret])
    assert shown == "said: <redacted>."


def test_json_escapes_are_decoded_in_what_is_shown_when_they_hid_a_secret() -> None:
    """A surrogate pair is one character, a lone surrogate U+FFFD, ``\\/`` a slash."""
    text = "a\\u0062c \\ud83d\\ude00 \\udc00 x\\/y \\u004 s\\u0065cretvalue"
    shown = "abc \U0001f600 \ufffd x/y \\u004 <redacted>"
    assert redact(text, ["secretvalue"]) == shown
    # Text that hid no secret comes back as it came.
    assert redact(text, ["never-there"]) == text


@pytest.mark.parametrize("secret", SECRETS)
def test_no_spelling_outgrows_the_excerpt_margin(secret: str) -> None:
    assert max(len(form) for form in spellings(secret)) <= SPELLING_GROWTH * len(secret)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "\\u0025" * 180_000,
        "\\u005c" * 180_000,
        "\\\\" * 500_000,
        base64.b64encode(os.urandom(780_000)).decode(),
        os.urandom(520_000).hex(),
    ],
    ids=["escaped-percent", "escaped-backslash", "backslashes", "base64", "hex"],
)
def test_redacting_a_megabyte_blob_ends(text: str) -> None:
    """Bounded and linear: a megabyte of escapes or of encoded noise is redacted at once."""
    assert "<redacted>" not in redact(text, [CLIENT_SECRET, CODE, f"{CLIENT_ID}:{CLIENT_SECRET}"])


def test_an_excerpt_of_a_base64_echo_shows_no_secret() -> None:
    blob = base64.b64encode(b"Authorization: Basic x\r\n\r\ncode=" + CODE.encode() + b"&x=1")
    shown = excerpt(f"<p>{blob.decode()}</p>" * 3, [CODE])
    assert blob.decode()[:40] in shown  # the excerpt shows the blob, cut where the code was
    assert not leaked(shown, [CODE]), shown


# -- the audit knows these spellings too --------------------------------------------------


def test_the_audit_finds_secrets_inside_blobs() -> None:
    secrets = Secrets(
        client_secrets={CLIENT_SECRET},
        codes={CODE},
        tokens={API_TOKEN},
        basic_credentials={f"{CLIENT_ID}:{CLIENT_SECRET}"},
    )
    request = f"POST /oauth/token\r\n\r\ngrant_type=authorization_code&code={CODE}".encode()
    planted = [
        base64.b64encode(request).decode(),
        base64.urlsafe_b64encode(b"." + request).decode(),
        request.hex().upper(),
        f"Bearer {API_TOKEN}".replace("a", "\\u0061"),
        base64.b64encode(b"Basic:" + CLIENT_SECRET.encode() + b"\r\n").decode(),
    ]
    for text in planted:
        assert find_leaks(secrets, [], [text], []), text
    assert not find_leaks(
        secrets, [], [redact(text, [CODE, CLIENT_SECRET, API_TOKEN]) for text in planted], []
    )
