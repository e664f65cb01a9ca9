"""The former path of the token stores, kept so that existing imports work.

Import from [`ticktick.stores`][ticktick.stores] in new code.
"""

from .stores import *  # noqa: F403 - the same names, by the same list
from .stores import __all__ as __all__
