"""Volunteers on PostgreSQL: the import of 100,000 volunteers as an Excel workbook (.xlsx)
beside the same roster as CSV, both through the gateway's ``POST /volunteers/import``, in the
same run.

The roster is ``volunteers_data.write_roster``'s CSV (BOM, Chinese headers, ignored columns,
phones as people write them, ID numbers for 60%, three spellings of dates, teams by name), and
the same rows as a workbook (``write_roster_xlsx``: phones of plain digits and 序号 as numbers,
ISO dates as date cells, ID numbers as text, a second sheet of notes; text as inline strings,
as openpyxl writes it — Excel and WPS keep a shared strings table instead, which the reader
parses once and which makes the rows lighter to parse). The gateway parses the rows itself
(``xlsximport.sheet_rows``, streaming); openpyxl's own row reader took 2-3× its CPU. Each
file is imported by a fresh platform (gateway and volunteers as real processes, a scratch
PostgreSQL database each, their own vhost), one after the other, so neither import meets the
other's rows. Both must import every row; a sample of the workbook's import is read back and
opened with the keys. The figure is the .xlsx rate as a share of the CSV rate (target: at
least 50%).

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_VOLUNTEERS_XLSX_ROWS   rows in the roster (default 100,000 × BENCH_SCALE)
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from kit.migrate import upgrade
from tests.bench import volunteers_data as data
from tests.bench.common import CpuMeter, Stopwatch, note, pids_named, report, scaled
from tests.bench.test_volunteers import TEAMS, _check_sample, _counts, _personal_data, _run_sql
from tests.support.infra import scratch_postgres_database
from tests.support.platform import Platform, new_vhost, vhost_uri
from volunteers import xlsximport

BENCH = "volunteers.import_xlsx"
RATIO_TARGET = 0.50
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": xlsximport.MEDIA_TYPE}


def _import(
    admin_url: str, infra: Any, rabbit_manager: Any, workdir: Path, teams: list[str], file: Path
) -> dict[str, Any]:
    """A fresh platform imports ``file`` through the gateway: the answer, the seconds the
    request took, CPU per process, and what the database holds after."""
    kind = file.suffix.lstrip(".")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(scratch_postgres_database(admin_url, f"jinguo_bench_{kind}"))
        gateway_url = stack.enter_context(
            scratch_postgres_database(admin_url, f"jinguo_bench_{kind}_gw")
        )
        upgrade("volunteers", url)
        _run_sql(url, lambda cursor: data.insert_teams(cursor, teams))
        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        platform = Platform(
            amqp_uri=vhost_uri(infra.amqp_uri, vhost),
            workdir=workdir / kind,
            database_urls={"volunteers": url, "gateway": gateway_url},
            rpc_timeout=120.0,
        )
        (workdir / kind).mkdir(exist_ok=True)
        stack.callback(platform.stop)
        platform.start()
        pids = {
            name: platform.processes[name].popen.pid  # type: ignore[union-attr]
            for name in ("gateway", "volunteers")
        }
        groups: dict[str, Any] = {name: (lambda pid=pid: [pid]) for name, pid in pids.items()}
        groups["postgres"] = lambda: pids_named("postgres")
        cpu = CpuMeter(groups).start()
        client = platform.admin()
        clock = Stopwatch()
        with file.open("rb") as stream:
            response = client.post(
                "/volunteers/import",
                data=stream,  # requests streams the file; the gateway reads it in chunks
                headers={"Content-Type": CONTENT_TYPES[kind]},
                timeout=1800,
            )
        seconds = clock.elapsed
        cpu.stop()
        peak_mb = {name: _peak_rss_mb(pid) for name, pid in pids.items()}
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        volunteers, members = _counts(url)
        keys = (platform.volunteers_data_key, platform.volunteers_hash_key)
        return {
            "answer": response.json(),
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": peak_mb,
            "volunteers": volunteers,
            "members": members,
            "url": url,
            "keys": keys,
            "checked": _check_sample(url, file.with_suffix(".csv"), _personal_data(*keys))
            if kind == "xlsx"
            else 0,
        }


def _peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (Linux ``VmHWM``), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def test_xlsx_import_beside_csv(postgres_admin_url, rabbit_manager, infra, tmp_path):
    rows = scaled("BENCH_VOLUNTEERS_XLSX_ROWS", 100_000, minimum=100)
    teams = data.team_names(TEAMS)
    csv_path = tmp_path / "roster.csv"
    xlsx_path = tmp_path / "roster.xlsx"
    clock = Stopwatch()
    written = data.write_roster(csv_path, rows, teams)
    csv_written = clock.elapsed
    assert data.write_roster_xlsx(csv_path, xlsx_path) == rows
    note(
        f"{BENCH}: {rows} rows ({written['with_id_number']} with an ID number, "
        f"{written['with_team']} with a team): CSV {csv_path.stat().st_size / 1e6:.1f} MB "
        f"in {csv_written:.1f}s, .xlsx {xlsx_path.stat().st_size / 1e6:.1f} MB in "
        f"{clock.elapsed - csv_written:.1f}s"
    )
    results = {}
    for file in (csv_path, xlsx_path):
        kind = file.suffix.lstrip(".")
        result = _import(postgres_admin_url, infra, rabbit_manager, tmp_path, teams, file)
        answer = result["answer"]
        assert (answer["received"], answer["imported"]) == (rows, rows), (
            kind,
            {key: answer[key] for key in ("received", "imported", "invalid", "duplicate")},
            answer["errors"][:5],
        )
        assert result["volunteers"] == rows and result["members"] == written["with_team"]
        results[kind] = result
        time.sleep(1)  # let the first platform's processes go before the second starts
    xlsx, plain = results["xlsx"], results["csv"]
    assert xlsx["answer"]["sheet"] == "志愿者名册" and xlsx["answer"]["ignored_sheets"] == [
        "填表说明"
    ]
    csv_rate = rows / plain["seconds"]
    xlsx_rate = rows / xlsx["seconds"]
    ratio = xlsx_rate / csv_rate
    cpu = {
        kind: {k: round(v * 1000, 1) for k, v in result["cpu"].per_item_ms(rows).items()}
        for kind, result in results.items()
    }
    report(
        BENCH,
        None,
        f"{rows} rows as .xlsx in {xlsx['seconds']:.1f}s = {xlsx_rate:,.0f} rows/s; the same "
        f"rows as CSV in {plain['seconds']:.1f}s = {csv_rate:,.0f} rows/s (same run, both "
        f"through POST /volunteers/import); .xlsx/CSV {ratio:.1%} (target ≥ "
        f"{RATIO_TARGET:.0%}: {'met' if ratio >= RATIO_TARGET else 'NOT met'}); "
        f"{xlsx['checked']} rows of the .xlsx import read back and opened",
        rows=rows,
        xlsx_seconds=round(xlsx["seconds"], 2),
        xlsx_rows_per_s=round(xlsx_rate, 1),
        csv_seconds=round(plain["seconds"], 2),
        csv_rows_per_s=round(csv_rate, 1),
        ratio=round(ratio, 4),
        target_ratio=RATIO_TARGET,
        cpu_ms_per_1000_rows=cpu,
        peak_rss_mb={kind: result["peak_mb"] for kind, result in results.items()},
    )
    note(f"{BENCH}: CPU ms per 1,000 rows: {cpu}")
    note(
        f"{BENCH}: peak resident memory (MB) per process: "
        f"{ {kind: result['peak_mb'] for kind, result in results.items()} }"
    )
