"""The fresh-authorization step: get a code from a person.

[`OAuth2`][ticktick.oauth2.OAuth2] builds an `AuthorizationRequest` (the authorize URL
with a fresh random ``state``) and hands it to an *authorizer*: any callable that
returns the authorization code, or raises. The default, `SignOn`, captures
a loopback redirect with a one-shot local server, opens a browser where there is a
display, and reads a pasted redirected URL (or bare code) from the terminal. Pass
``authorizer=`` to ``OAuth2`` to replace it, for example with
``FakeTickTick.approver()`` in tests.

`parse_redirect` turns what a person pasted into a code, checking ``state``
so that a forged or stale redirect is refused.

The package's modules, each one idea: `request` (what is asked), `redirect` (what
comes back), `terminal` (the person at the keyboard), `loopback` (the one-shot local
server that captures the redirect) and `flow` (`SignOn`, which ties them together).
"""

from __future__ import annotations

from .._defaults import DEFAULT_SIGNON_TIMEOUT
from ..errors import (  # noqa: F401 - the errors a sign-on raises, importable here as before
    AuthorizationTimeout,
    ReauthorizationRequired,
    RedirectParseError,
    StateMismatch,
)
from .flow import SignOn
from .redirect import parse_redirect
from .request import AuthorizationRequest, Authorizer, code_challenge, new_code_verifier
from .terminal import ReadLine, headless_reason, no_terminal_reason

__all__ = [
    "DEFAULT_SIGNON_TIMEOUT",
    "AuthorizationRequest",
    "Authorizer",
    "ReadLine",
    "SignOn",
    "code_challenge",
    "headless_reason",
    "new_code_verifier",
    "no_terminal_reason",
    "parse_redirect",
]
