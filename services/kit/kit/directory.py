"""Moved to ``language.directory`` (issue 14); this name stays until the import move rewrites its
users, and is deleted with it (``tools/move_language.py``)."""

import sys

from language import directory as _moved
from language.directory import *  # noqa: F403 - the names, for type checkers

sys.modules[__name__] = _moved
