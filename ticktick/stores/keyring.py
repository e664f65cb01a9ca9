"""A token store in the operating system's secret store, through ``keyring``.

Needs ``pip install 'ticktick-oauth[keyring]'`` (the ``keyring`` package) and a
keyring backend: macOS Keychain, Windows Credential Locker, the Secret Service of a
Linux desktop, or a file-backed one such as ``keyrings.alt``. Without a usable
backend, every operation raises [`TokenCacheError`][ticktick.errors.TokenCacheError] saying so;
so does any failure of the backend (a locked keyring, a damaged keyring file), naming
the backend and what to do.

The token is stored as a password of the service ``ticktick-oauth`` under a user
name made of host, client id and scope, so each app and region has its own entry.
The "only one authorizes" lock is a file lock in a private folder of this user
(``$XDG_RUNTIME_DIR`` or ``~/.cache/ticktick-oauth``), since a keyring has none.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn

from .._defaults import LOCK_TIMEOUT, logger
from ..errors import ConfigurationError, TokenCacheError
from ..token import TokenDict
from .base import TokenIdentity, TokenStore, check_identity, decode_token, encode_token
from .locks import FileLock, file_lock

__all__ = ["KeyringStore"]

SERVICE = "ticktick-oauth"


def _lock_folder() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "ticktick-oauth")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


class KeyringStore(TokenStore):
    """Keeps the token in the system keyring.

    Args:
        identity: What the token is for; left out, ``OAuth2`` uses a copy with its own.
        service: The keyring service name.
        lock_folder: Where the lock file goes (a private folder of this user by default).

    Raises:
        ConfigurationError: The ``keyring`` package is not installed.
    """

    def __init__(
        self,
        *,
        identity: TokenIdentity | None = None,
        service: str = SERVICE,
        lock_folder: str | None = None,
    ) -> None:
        try:
            import keyring
            import keyring.errors
        except ImportError:
            raise ConfigurationError(
                "The keyring store needs the keyring package: "
                "pip install 'ticktick-oauth[keyring]'."
            ) from None
        self._keyring = keyring
        # Backends raise errors of their own besides KeyringError (keyrings.alt's file
        # backend lets configparser's through for a damaged file): any is a store failure.
        self._errors: tuple[type[BaseException], ...] = (Exception,)
        self.identity = identity
        self.service = service
        self._lock_folder = lock_folder
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"KeyringStore(service={self.service!r})"

    @property
    def username(self) -> str:
        """The keyring entry's user name: host, client id and scope."""
        identity = self.identity or TokenIdentity("", None, None)
        return " ".join(identity.require_full("keyring store"))

    def describe(self) -> str:
        """The backend, service and entry."""
        return f"keyring {self._backend_name()} {self.service}/{self.username}"

    def cli_options(self) -> list[str] | None:
        """``--store keyring``; ``None`` for another ``service``: the command cannot select it."""
        if self.service != SERVICE:
            return None
        return ["--store", "keyring"]

    def _backend_name(self) -> str:
        try:
            backend = self._keyring.get_keyring()
        except Exception:
            return "whose backend could not be loaded"
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def _check_backend(self) -> None:
        try:
            backend = self._keyring.get_keyring()
        except Exception as exc:
            raise TokenCacheError(
                f"The keyring backend could not be loaded ({type(exc).__name__}). Check "
                "PYTHON_KEYRING_BACKEND and the keyring's configuration, or use the file store "
                "(--store file)."
            ) from None
        module = type(backend).__module__
        if module.startswith("keyring.backends.fail") or module.startswith("keyring.backends.null"):
            raise TokenCacheError(
                "No keyring backend is available here (keyring chose "
                f"{self._backend_name()}). Install one (a desktop secret service, or "
                "keyrings.alt for a file-backed keyring), or use the file store "
                "(--store file)."
            )

    def _fail(self, doing: str, exc: BaseException) -> NoReturn:
        # Only the error's type: its text may quote the keyring's content (a token).
        raise TokenCacheError(
            f"The keyring ({self._backend_name()}) could not {doing}: {type(exc).__name__}. "
            "Unlock it; if its storage is damaged (such as the file of a file-backed "
            "keyring), repair or move it aside; or use the file store (--store file)."
        ) from None

    def read(self) -> TokenDict | None:
        """The token in the keyring, or ``None``; an unreadable entry is removed with a warning."""
        self._check_backend()
        username = self.username  # outside the try: no identity is not a keyring failure
        try:
            value = self._keyring.get_password(self.service, username)
        except self._errors as exc:
            self._fail("be read", exc)
        if value is None:
            return None
        token, problem = decode_token(value.encode("utf-8"))
        if token is None:
            aside = f"{self.username} corrupt"
            try:
                self._keyring.set_password(self.service, aside, value)
                self._keyring.delete_password(self.service, self.username)
            except self._errors as exc:
                self._fail("set aside an unreadable token", exc)
            logger().warning(
                "The token in the keyring was unusable (%s); it was moved to the entry %r.",
                problem,
                aside,
            )
            return None
        return check_identity(token, self.identity, self.describe())

    def write(self, token: Mapping[str, Any]) -> None:
        """Store *token* in the keyring."""
        self._check_backend()
        username = self.username
        try:
            self._keyring.set_password(
                self.service, username, encode_token(token, self.identity).decode("utf-8")
            )
        except self._errors as exc:
            self._fail("store the token", exc)

    def delete(self) -> bool:
        """Remove the token; return whether there was one."""
        self._check_backend()
        username = self.username
        try:
            if self._keyring.get_password(self.service, username) is None:
                return False
            self._keyring.delete_password(self.service, username)
        except self._errors as exc:
            self._fail("delete the token", exc)
        return True

    def discard(self, access_token: str) -> bool:
        """Remove the token if it is still *access_token*."""
        with self.lock(LOCK_TIMEOUT):
            token = self.read()
            if token is None or token["access_token"] != access_token:
                return False
            return self.delete()

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """A file lock in this user's private folder, per keyring entry (re-entrant)."""
        if self._lock is None:
            digest = hashlib.sha256(f"{self.service}\n{self.username}".encode()).hexdigest()
            folder = self._lock_folder or _lock_folder()
            self._lock = file_lock(os.path.join(folder, f"{digest[:24]}.lock"))
        return self._lock.hold(timeout)
