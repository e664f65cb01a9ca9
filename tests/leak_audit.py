"""The secrets audit: what the whole test run logged, raised and sent, scanned for secrets.

conftest.py collects, for the whole session: every log record at DEBUG (all
loggers), the message of every exception a test observed through ``pytest.raises``
(and of the causes a traceback would show with it), and every fake TickTick server
started (``FakeTickTick.on_start``). At the end it calls `find_leaks` with the
client secrets, authorization codes and tokens (OAuth tokens and personal API
tokens) those servers handed out, and the PKCE code verifiers they received, and fails
the run on any finding.

pytest.raises stays the plain one: during each test a profile function
(``sys.setprofile``) notes the exception handed to the ``__exit__`` of pytest.raises'
context manager, in the main thread, and reads nothing else. Test modules that
cannot reach pytest.raises (no ``raises`` in them or in the test modules they use)
run without it, for speed. If another profiler holds ``sys.setprofile`` the audit
stands aside for that test and says so.

Rules:
- no log record contains a client secret, a PKCE verifier or a token; records of the ``ticktick``
  loggers contain no code either (other loggers, such as urllib3 logging a simulated
  browser's request to the loopback receiver, may show a code: a browser carries it);
- no exception message contains a client secret, a code, a verifier or a token;
- no URL the library sent (``User-Agent: ticktick-oauth/...``) contains any of them,
  and no URL at all contains a token; the client secret travels only in Basic headers.

"Contains" means any spelling a server could echo: as is, as hex (either case) or
base64-encoded (standard or URL-safe, with or without padding: the HTTP Basic
credential is ``base64(client_id:secret)``; also the part a secret alone decides of
a longer base64 blob, such as a whole request encoded), each percent-encoded (also
with every byte escaped), form-encoded or JSON-escaped; and the text is searched
again with its JSON ``\\uXXXX`` escapes undone.
Written apart from the library's own redaction rule (``ticktick.errors``), so that
the audit checks it rather than repeats it.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from ticktick.testing import FakeTickTick


@dataclass
class Secrets:
    client_secrets: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    verifiers: set[str] = field(default_factory=set)  # PKCE code verifiers
    basic_credentials: set[str] = field(default_factory=set)  # "client_id:secret"

    @classmethod
    def of(cls, fakes: Iterable[FakeTickTick]) -> Secrets:
        found = cls()
        for fake in fakes:
            found.client_secrets |= {client.secret for client in fake.clients.values()}
            found.basic_credentials |= {
                f"{client_id}:{client.secret}" for client_id, client in fake.clients.items()
            }
            found.codes |= set(fake.codes_issued)
            found.tokens |= set(fake.issued) | set(fake.api_tokens)
            found.verifiers |= set(fake.verifiers)
        return found


def _inside_base64(raw: bytes, encode: Callable[[bytes], bytes]) -> set[str]:
    """What shows of *raw* inside a longer base64 stream, at each of its 3 alignments.

    Found by encoding *raw* between all-zero and then all-one bytes and keeping the
    characters that came out the same: those the surrounding bytes do not touch.
    """
    found: set[str] = set()
    for offset in range(3):
        low = encode(b"\x00" * offset + raw + b"\x00\x00").decode().rstrip("=")
        high = encode(b"\xff" * offset + raw + b"\xff\xff").decode().rstrip("=")
        same = [i for i, (a, b) in enumerate(zip(low, high, strict=True)) if a == b]
        found.add(low[same[0] : same[-1] + 1] if same else "")
    return {form for form in found if len(form) >= 4}


@functools.cache
def spellings(value: str) -> frozenset[str]:
    """*value* as a server may echo it: also base64-encoded, as the Basic credential is."""
    bases = {value, value.encode().hex(), value.encode().hex().upper()}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        padded = encode(value.encode()).decode()
        bases |= {padded, padded.rstrip("=")} | _inside_base64(value.encode(), encode)
    found: set[str] = set()
    for base in bases:
        found |= {
            base,
            quote(base, safe=""),
            quote_plus(base, safe=""),
            json.dumps(base)[1:-1],
            json.dumps(base)[1:-1].replace("/", "\\/"),
            "".join(f"%{byte:02X}" for byte in base.encode()),  # every byte percent-encoded
        }
    return frozenset(found)


@functools.cache
def _folded_spellings(value: str) -> frozenset[str]:
    return frozenset(form.casefold() for form in spellings(value))


def _hits(text: str, values: set[str]) -> list[str]:
    """Every value of *values* that *text* holds in one of its spellings (case-blind)."""
    texts = [text.casefold()]
    if "\\u" in text:  # JSON's escapes, such as \u0061 for "a", undone
        texts.append(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text).casefold())
    return [
        value
        for value in values
        if len(value) >= 6
        and any(form in folded for form in _folded_spellings(value) for folded in texts)
    ]


def _shown(text: str, hits: list[str]) -> str:
    """*text* shortened, with every hit masked: a leak report must not leak."""
    for hit in hits:
        for form in sorted(spellings(hit), key=len, reverse=True):
            text = text.replace(form, hit[:4] + "***")
    return repr(text[:100])


def find_leaks(
    secrets: Secrets,
    records: Iterable[tuple[str, str]],
    messages: Iterable[str],
    fakes: Iterable[FakeTickTick],
) -> list[str]:
    """Every leak found, described without repeating the secret in full."""
    leaks: list[str] = []
    always = secrets.client_secrets | secrets.tokens | secrets.basic_credentials | secrets.verifiers
    for logger, message in records:
        values = always | (secrets.codes if logger.startswith("ticktick") else set())
        hits = _hits(message, values)
        for hit in hits:
            leaks.append(f"log record of {logger!r} contains {hit[:4]}...: {_shown(message, hits)}")
    for message in messages:
        hits = _hits(message, always | secrets.codes)
        for hit in hits:
            leaks.append(f"exception message contains {hit[:4]}...: {_shown(message, hits)}")
    for fake in fakes:
        for request in list(fake.requests):
            sent_by_library = request.headers.get("User-Agent", "").startswith("ticktick-oauth/")
            values = (always | secrets.codes) if sent_by_library else secrets.tokens
            for hit in _hits(request.target, values):
                leaks.append(f"URL {request.method} {request.path} contains {hit[:4]}...")
            authorization = request.headers.get("Authorization", "")
            # Only in clear: the Basic header is, rightly, base64 of client_id:secret.
            if sent_by_library and any(value in authorization for value in secrets.client_secrets):
                leaks.append(
                    f"a client secret in clear in an Authorization header ({request.path})"
                )
    return leaks
