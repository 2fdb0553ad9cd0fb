"""Benchmarks run only under ``JINGUO_BENCH=1`` (``make bench``), even when named explicitly."""

import os

collect_ignore_glob = [] if os.environ.get("JINGUO_BENCH") else ["test_*.py"]
