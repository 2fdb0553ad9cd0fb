"""What every benchmark shares: scale from the environment, percentiles, and reporting.

Each figure is printed as one ``BENCH ...`` line and appended as one JSON object to
``var/bench/results.jsonl``, so runs can be compared later. Figures are indicative: client,
broker, databases and services share the machine's cores.

Environment:
    BENCH_SCALE   multiplies every default count (0.05 for a quick run; default 1)
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "var" / "bench" / "results.jsonl"


def scale() -> float:
    return float(os.environ.get("BENCH_SCALE") or 1.0)


def scaled(env_name: str, default: int, minimum: int = 1) -> int:
    """``$env_name`` if set (not scaled), else ``default`` times BENCH_SCALE."""
    explicit = os.environ.get(env_name)
    if explicit:
        return max(int(explicit), minimum)
    return max(round(default * scale()), minimum)


def setting(env_name: str, default: int) -> int:
    """A number that BENCH_SCALE does not touch (concurrency, repetitions)."""
    return int(os.environ.get(env_name) or default)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def latency_figures(seconds: list[float]) -> dict[str, float]:
    """p50/p99/max in milliseconds."""
    return {
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 2),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


_CONTEXT: dict[str, Any] = {}


def _context() -> dict[str, Any]:
    if not _CONTEXT:
        _CONTEXT.update(
            host=socket.gethostname(),
            cpus=os.cpu_count(),
            python=platform.python_version(),
            commit=_commit(),
        )
    return _CONTEXT


def report(name: str, variant: str | None, text: str, **figures: Any) -> None:
    """Print ``BENCH name variant: text`` and append the figures to results.jsonl."""
    label = f"{name} {variant}" if variant else name
    print(f"BENCH {label}: {text}", flush=True)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bench": name,
        "variant": variant,
        "scale": scale(),
        **figures,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        **_context(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def note(text: str) -> None:
    """Context worth reading beside the figures (plans, phases); not recorded as a figure."""
    print(f"BENCH-NOTE {text}", flush=True)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


# --- where the CPU went -------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def pids_named(command: str) -> list[int]:
    """Live processes whose command name (``/proc/<pid>/comm``) is ``command``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _busy_and_total() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds each named group of processes used between ``start()`` and ``stop()``.

    ``groups`` maps a label to a callable returning pids (looked up at start and at stop, so
    PostgreSQL backends opened meanwhile are counted from zero; ones that exited are missed).
    ``self`` is this test process. Also the share of the whole machine that was busy.
    """

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = {"client": lambda: [os.getpid()], **groups}
        self.before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}
        self.machine_busy = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            label: {pid: _process_cpu(pid) for pid in find()} for label, find in self.groups.items()
        }

    def start(self) -> CpuMeter:
        self.before = self._sample()
        self._machine = _busy_and_total()
        return self

    def stop(self) -> dict[str, float]:
        after = self._sample()
        for label, pids in after.items():
            earlier = self.before.get(label, {})
            self.used[label] = sum(cpu - earlier.get(pid, 0.0) for pid, cpu in pids.items())
        busy, total = _busy_and_total()
        self.machine_busy = (busy - self._machine[0]) / max(total - self._machine[1], 1)
        return self.used

    def per_item_ms(self, items: int) -> dict[str, float]:
        return {label: round(seconds * 1000 / items, 2) for label, seconds in self.used.items()}

    def describe(self, items: int, unit: str) -> str:
        parts = ", ".join(f"{label} {ms:.2f}" for label, ms in self.per_item_ms(items).items())
        return f"CPU ms per {unit}: {parts}; machine {self.machine_busy:.0%} busy"


def load_figures(cpu: CpuMeter, seconds: float, items: int, unit: str) -> dict[str, Any]:
    """What the services cost per item without the load generator (``cpu_ms_per_<unit>``,
    ``server_cpu_ms_per_<unit>``), and how much of the busy machine was outside the meter
    (other tenants, kernel threads): a run with a large share there is disturbed and its rates
    read low."""
    per_item = cpu.per_item_ms(items)
    unmetered = cpu.machine_busy * (os.cpu_count() or 1) - sum(cpu.used.values()) / seconds
    return {
        f"cpu_ms_per_{unit}": per_item,
        f"server_cpu_ms_per_{unit}": round(
            sum(ms for label, ms in per_item.items() if label != "client"), 2
        ),
        "machine_busy": round(cpu.machine_busy, 2),
        "unmetered_cores": round(unmetered, 2),
    }


def describe_load(cpu: CpuMeter, load: dict[str, Any], items: int, unit: str) -> str:
    """``CpuMeter.describe`` and the cores busy outside the meter (from ``load_figures``)."""
    return (
        f"{cpu.describe(items, unit)}; {load['unmetered_cores']:.2f} cores busy outside the meter"
    )
