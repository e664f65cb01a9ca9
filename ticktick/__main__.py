"""``python -m ticktick``: the ``ticktick-auth`` command."""

import sys

from .cli import main

sys.exit(main())
