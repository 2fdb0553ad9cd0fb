"""Unit tier: pure Python, no broker or database is touched by these tests.

Hypothesis keeps no example database, so a unit run leaves nothing behind in the repository.
"""

from hypothesis import settings

settings.register_profile("unit", database=None)
settings.load_profile("unit")
