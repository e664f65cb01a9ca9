"""`EnvSource`: a read-only token in an environment variable (``ACCESS_TOKEN_DICT``)."""

from __future__ import annotations

import os

from ..errors import TokenCacheError
from ..token import parse_token_literal
from .base import TokenStore

TYPE_CHECKING = False  # the fast path: docs/architecture.md
if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager
    from typing import Any

    from ..token import TokenDict


class EnvSource(TokenStore):
    """A read-only source: an environment variable holding the token dict.

    The value is JSON or the Python dict literal ticktick-py users keep in
    ``ACCESS_TOKEN_DICT``. Unset or empty reads as no token; a malformed value raises
    [`TokenFormatError`][ticktick.errors.TokenFormatError] naming the variable (never the value).
    Nothing is ever written to it, and no identity is checked: the variable is
    trusted as configured.
    """

    read_only = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"EnvSource({self.name!r})"

    def describe(self) -> str:
        """``env:NAME``."""
        return f"env:{self.name}"

    def read(self) -> TokenDict | None:
        """The token in the variable, or ``None`` when it is unset or empty."""
        text = os.environ.get(self.name)
        if text is None or not text.strip():
            return None
        return parse_token_literal(
            text,
            source=f"The environment variable {self.name}",
            advice=(
                f"Set {self.name} to the token dict (JSON, or the Python dict literal "
                "ticktick-py uses) with at least 'access_token' and 'expire_time' "
                f"('ticktick-auth export' prints one), or unset {self.name}."
            ),
        )

    def _refuse(self) -> TokenCacheError:
        return TokenCacheError(
            f"The environment variable {self.name} is read-only: a new token must be put "
            f"there by hand (run 'ticktick-auth export' and update {self.name})."
        )

    def write(self, token: Mapping[str, Any]) -> None:
        """Refused: the environment is read-only."""
        raise self._refuse()

    def delete(self) -> bool:
        """Refused: the environment is read-only."""
        raise self._refuse()

    def discard(self, access_token: str) -> bool:
        """Nothing to do: the variable cannot be changed from here."""
        return False

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """No lock: nothing is written."""
        from .locks import NO_LOCK

        return NO_LOCK
