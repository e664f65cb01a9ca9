"""The former path of the token stores, kept so that existing imports work.

Import from [`ticktick.stores`][ticktick.stores] in new code. The helpers this module
used to hold are importable from here too, from where they live now.
"""

from .stores import *  # noqa: F403 - the same names, by the same list
from .stores import __all__ as __all__
from .stores.base import (  # noqa: F401 - kept for code that imported them from here
    LEGACY_HOST,
    MAX_CACHE_SIZE,
    check_identity,
    decode_token,
    encode_token,
    normalize_scope,
)
from .stores.disk import (  # noqa: F401
    file_problem,
    is_temporary_of,
    open_checked,
    temporary_name,
    write_private_file,
)
