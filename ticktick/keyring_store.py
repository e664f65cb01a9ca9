"""The former path of `KeyringStore`, kept so that existing imports work.

Import from [`ticktick.stores.keyring`][ticktick.stores.keyring] in new code.
"""

from .stores.keyring import KeyringStore

__all__ = ["KeyringStore"]
