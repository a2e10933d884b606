"""Benchmark: a college's earned-credit export (CSV and XLSX) against PostgreSQL's own COPY.

Not a test: a report anyone can run. It fills a PostgreSQL database made for it
(``sers_bench`` unless DATABASE_URL names another ``*bench`` database) with N
earned credits, then for each N times

* the CSV exactly as the download streams it (``csv_chunks`` over
  ``CollegeCreditExporter``), into a sink that only counts bytes;
* the same query as raw ``COPY (...) TO STDOUT WITH CSV``, and the ratio;
* the XLSX (``write_xlsx``) into a temporary file, for N up to ``--xlsx-max``;
* ``export_csv_stream`` end to end (snapshot, stream, file copy, batch) once,
  for the smallest N;

and reports rows/s, the peak of Python allocations (tracemalloc) and the peak
growth of the resident set (RSS). Each measurement runs in a fresh child process,
so one measurement's memory does not hide or inflate another's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sers_bench \\
        .venv/bin/python bench/export_credits.py --rows 10000 --rows 100000

See bench/README.md. Exit status 0 is a finished report, whatever the numbers.
"""

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

# The data module sits beside this script: `python bench/export_credits.py` puts bench/ first
# on the path.
from credit_data import (
    DEFAULT_DATABASE_URL,
    MAX_ROWS,
    configure_environment,
    database_settings,
    ensure_database,
    ensure_rows,
    media_cleanup,
    setup_django,
    vacuum,
)

ROOT = Path(__file__).resolve().parent.parent
RESULT_MARK = "BENCH-RESULT "
MB = 1024 * 1024

# Targets from the issue.
TARGET_COPY_RATIO = 2.0
TARGET_MEMORY_MB = 20.0
TARGET_XLSX_ROWS = 100_000
TARGET_XLSX_SECONDS = 10.0


# --- Measuring (in a child process) ---------------------------------------------------------


class NullSink:
    """A file that keeps nothing: counts the bytes and the writes it is given."""

    def __init__(self):
        self.bytes = 0
        self.writes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        self.writes += 1
        return len(data)


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssPeak:
    """Samples the resident set every 50 ms in a thread; ``growth`` is peak minus the start."""

    def __init__(self, every: float = 0.05):
        self.every = every
        self.stop = threading.Event()
        self.start_rss = self.peak = rss_bytes()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self):
        self.start_rss = self.peak = rss_bytes()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start_rss


def _exporter(college_id: int):
    from credit_lists.exporters import CollegeCreditExporter, CreditFilters

    return CollegeCreditExporter(CreditFilters(college_id=college_id))


def _prepare() -> None:
    """Connect and import before the baseline, so neither counts as the export's memory."""
    from django.db import connection

    import credit_lists.exporters  # noqa: F401

    connection.ensure_connection()


def measure_csv(college_id: int) -> dict:
    from credit_lists.exporters import CsvWriter, csv_chunks

    exporter = _exporter(college_id)
    writer, sink = CsvWriter(), NullSink()
    with RssPeak() as rss:
        started = time.perf_counter()
        for chunk in csv_chunks(exporter, writer, exporter.queryset()):
            sink.write(chunk)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": writer.row_count,
        "bytes": sink.bytes,
        "sha256": writer.digest.hexdigest(),
        "rss_growth": rss.growth,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def measure_csv_tracemalloc(college_id: int) -> dict:
    from credit_lists.exporters import CsvWriter, csv_chunks

    exporter = _exporter(college_id)
    writer, sink = CsvWriter(), NullSink()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for chunk in csv_chunks(exporter, writer, exporter.queryset()):
        sink.write(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": writer.row_count, "tracemalloc_peak": peak - base}


def copy_statement(college_id: int, raw_cursor) -> str:
    """The exporter's own query, parameters inlined, as a COPY to standard output."""
    from credit_lists.exporters import COLUMNS, _source_fields

    query = _exporter(college_id).queryset().values_list(*_source_fields(COLUMNS)).query
    sql, params = query.sql_with_params()
    select = raw_cursor.mogrify(sql, params)
    return f"COPY ({select}) TO STDOUT WITH CSV"


def measure_copy(college_id: int) -> dict:
    import psycopg
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection  # the psycopg 3 connection under Django's
    sink = NullSink()
    statement = copy_statement(college_id, psycopg.ClientCursor(raw))
    with raw.cursor() as cursor:
        with RssPeak() as rss:
            started = time.perf_counter()
            with cursor.copy(statement) as copy:
                for block in copy:
                    sink.write(block)
            seconds = time.perf_counter() - started
        rows = cursor.rowcount
    return {"seconds": seconds, "rows": rows, "bytes": sink.bytes, "rss_growth": rss.growth}


def measure_xlsx(college_id: int, keep_dir: str) -> dict:
    import openpyxl  # noqa: F401 - imported before the baseline

    from credit_lists.exporters import write_xlsx

    exporter = _exporter(college_id)
    folder = keep_dir or tempfile.mkdtemp(prefix="sers-bench-xlsx-")
    path = os.path.join(folder, f"credits-{college_id}-{os.getpid()}.xlsx")
    try:
        with RssPeak() as rss:
            started = time.perf_counter()
            rows = write_xlsx(exporter, path, exporter.queryset())
            seconds = time.perf_counter() - started
        size = os.path.getsize(path)
    finally:
        if not keep_dir:
            shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": seconds, "rows": rows, "bytes": size, "rss_growth": rss.growth, "path": path}


def measure_end_to_end(college_id: int, keep_dir: str) -> dict:
    """export_csv_stream as the download runs it; the batch and its marks are undone after."""
    from django.contrib.auth import get_user_model

    from credit_lists.models import ExportBatch
    from credit_lists.services import export_csv_stream
    from grading.models import Credit

    registrar = get_user_model().objects.get(username="bench_registrar")
    exporter = _exporter(college_id)
    sink = NullSink()
    with RssPeak() as rss:
        started = time.perf_counter()
        for chunk in export_csv_stream(exporter=exporter, requested_by=registrar, via="bench"):
            sink.write(chunk)
        seconds = time.perf_counter() - started
    batch = ExportBatch.objects.latest("pk")
    result = {
        "seconds": seconds,
        "rows": batch.row_count,
        "bytes": sink.bytes,
        "file_bytes": batch.file.size,
        "sha256": batch.sha256,
        "rss_growth": rss.growth,
    }
    if keep_dir:
        with (
            batch.file.open("rb") as source,
            open(os.path.join(keep_dir, os.path.basename(batch.file.name)), "wb") as target,
        ):
            shutil.copyfileobj(source, target)
    Credit.objects.filter(exported_batch=batch).update(exported_batch=None)
    batch.file.delete(save=False)
    batch.delete()
    return result


def run_child(mode: str, college_id: int, keep_dir: str) -> None:
    configure_environment()
    setup_django()
    _prepare()
    measures = {
        "csv": lambda: measure_csv(college_id),
        "csv-tracemalloc": lambda: measure_csv_tracemalloc(college_id),
        "copy": lambda: measure_copy(college_id),
        "xlsx": lambda: measure_xlsx(college_id, keep_dir),
        "e2e": lambda: measure_end_to_end(college_id, keep_dir),
    }
    try:
        result = measures[mode]()
    finally:
        media_cleanup()
    print(RESULT_MARK + json.dumps(result), flush=True)


def in_child(mode: str, college_id: int, keep_dir: str) -> dict:
    """One measurement in a fresh interpreter; its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    command += ["--college", str(college_id), "--keep-dir", keep_dir]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own script
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"The {mode} measurement failed (exit {done.returncode}).")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    sys.stderr.write(done.stdout + done.stderr)
    raise SystemExit(f"The {mode} measurement printed no result.")


# --- Report -------------------------------------------------------------------------------


def mb(value: float) -> str:
    return f"{value / MB:.1f}"


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def print_header(config: dict) -> None:
    import django

    print("SERS credit export benchmark")
    print(
        f"  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, Django {django.get_version()}, "
        f"PostgreSQL {server_version()}"
    )
    print(
        f"  database {config['NAME']} on {config.get('HOST') or 'local socket'}:{config.get('PORT') or 5432}"
    )
    print(flush=True)


def best_of(mode: str, college_id: int, args) -> dict:
    """The fastest of ``--repeat`` runs, with the largest memory growth any of them saw."""
    runs = [in_child(mode, college_id, args.keep_dir_path) for _ in range(args.repeat)]
    best = dict(min(runs, key=lambda run: run.get("seconds", 0)))
    for key in ("rss_growth", "tracemalloc_peak"):
        if key in best:
            best[key] = max(run[key] for run in runs)
    if len(runs) > 1 and "seconds" in best:
        best["all_seconds"] = [run["seconds"] for run in runs]
    return best


def seconds_text(result: dict) -> str:
    text = f"{result['seconds']:7.2f} s"
    if "all_seconds" in result:
        text += "  (runs: " + ", ".join(f"{s:.2f}" for s in result["all_seconds"]) + ")"
    return text


def measure_size(n: int, college_id: int, args, first: bool) -> dict:
    result = {"rows": n}
    result["csv"] = best_of("csv", college_id, args)
    print(f"    CSV   {seconds_text(result['csv'])}", flush=True)
    if not args.no_tracemalloc:
        # Once: tracemalloc slows every allocation, so this run is for its peak, not its time.
        result["trace"] = in_child("csv-tracemalloc", college_id, args.keep_dir_path)
        print(
            f"    CSV under tracemalloc: peak {mb(result['trace']['tracemalloc_peak'])} MB",
            flush=True,
        )
    result["copy"] = best_of("copy", college_id, args)
    print(f"    COPY  {seconds_text(result['copy'])}", flush=True)
    if n <= args.xlsx_max:
        result["xlsx"] = best_of("xlsx", college_id, args)
        print(f"    XLSX  {seconds_text(result['xlsx'])}", flush=True)
    if first:
        # Once: it marks every row exported and is undone after, so it is not repeated.
        result["e2e"] = in_child("e2e", college_id, args.keep_dir_path)
        print(f"    export_csv_stream end to end {result['e2e']['seconds']:7.2f} s", flush=True)
        vacuum()  # the batch marked and unmarked every row
    for kind in ("csv", "copy", "xlsx", "e2e"):
        if kind in result and result[kind]["rows"] != n:
            raise SystemExit(f"{kind} wrote {result[kind]['rows']} rows, expected {n}.")
    return result


def print_report(results: list[dict]) -> None:
    print()
    columns = (
        f"{'rows':>9}  {'CSV s':>7}  {'CSV rows/s':>10}  {'COPY s':>7}  {'ratio':>5}  "
        f"{'tracemalloc MB':>14}  {'RSS +MB':>7}  {'XLSX s':>7}  {'XLSX rows/s':>11}"
    )
    print(columns)
    print("-" * len(columns))
    for r in results:
        csv, copy = r["csv"], r["copy"]
        ratio = csv["seconds"] / copy["seconds"]
        trace = mb(r["trace"]["tracemalloc_peak"]) if "trace" in r else "-"
        xlsx_s = f"{r['xlsx']['seconds']:.2f}" if "xlsx" in r else "-"
        xlsx_rate = f"{r['rows'] / r['xlsx']['seconds']:,.0f}" if "xlsx" in r else "-"
        print(
            f"{r['rows']:>9,}  {csv['seconds']:>7.2f}  {r['rows'] / csv['seconds']:>10,.0f}  "
            f"{copy['seconds']:>7.2f}  {ratio:>5.1f}  {trace:>14}  {mb(csv['rss_growth']):>7}  "
            f"{xlsx_s:>7}  {xlsx_rate:>11}"
        )
    print()
    for r in results:
        details = (
            f"{r['rows']:>9,} rows: CSV {mb(r['csv']['bytes'])} MB, COPY {mb(r['copy']['bytes'])} MB "
            f"({r['rows'] / r['copy']['seconds']:,.0f} rows/s)"
        )
        if "xlsx" in r:
            details += (
                f", XLSX file {mb(r['xlsx']['bytes'])} MB (RSS +{mb(r['xlsx']['rss_growth'])} MB)"
            )
        print(details)
        if "e2e" in r:
            e2e = r["e2e"]
            print(
                f"{'':>9}       export_csv_stream end to end (snapshot, stream, file copy, batch): "
                f"{e2e['seconds']:.2f} s, {r['rows'] / e2e['seconds']:,.0f} rows/s, "
                f"RSS +{mb(e2e['rss_growth'])} MB"
            )
    print()
    print_verdicts(results)


def print_verdicts(results: list[dict]) -> None:
    ratios = [r["csv"]["seconds"] / r["copy"]["seconds"] for r in results]
    worst = max(ratios)
    print(
        f"CSV within {TARGET_COPY_RATIO:g}x of COPY: {'yes' if worst <= TARGET_COPY_RATIO else 'no'} "
        f"(worst ratio {worst:.1f})"
    )
    by_rows = {r["rows"]: r for r in results}
    if 10_000 in by_rows and MAX_ROWS in by_rows:
        small, large = by_rows[10_000], by_rows[MAX_ROWS]
        growth = large["csv"]["rss_growth"] - small["csv"]["rss_growth"]
        detail = f"{growth / MB:.1f} MB RSS"
        if "trace" in small and "trace" in large:
            traced = large["trace"]["tracemalloc_peak"] - small["trace"]["tracemalloc_peak"]
            detail += f"; tracemalloc peak {traced / MB:+.1f} MB"
        verdict = "yes" if growth < TARGET_MEMORY_MB * MB else "no"
        print(f"memory growth 10k→1M under {TARGET_MEMORY_MB:g} MB: {verdict} ({detail})")
    else:
        print("memory growth 10k→1M: not measured (needs --rows 10000 --rows 1000000)")
    if TARGET_XLSX_ROWS in by_rows and "xlsx" in by_rows[TARGET_XLSX_ROWS]:
        seconds = by_rows[TARGET_XLSX_ROWS]["xlsx"]["seconds"]
        verdict = "yes" if seconds < TARGET_XLSX_SECONDS else "no"
        print(f"XLSX 100k under {TARGET_XLSX_SECONDS:g} s: {verdict} ({seconds:.2f} s)")
    else:
        print("XLSX 100k: not measured (needs --rows 100000 and --xlsx-max >= 100000)")


# --- Command line -------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Time the earned-credit CSV and XLSX exports against PostgreSQL COPY.",
        epilog=f"DATABASE_URL defaults to {DEFAULT_DATABASE_URL}; the database's name must end in 'bench'.",
    )
    parser.add_argument(
        "--rows",
        type=int,
        action="append",
        help="Earned credits to export (repeat for several sizes; default 10000; at most 1000000).",
    )
    parser.add_argument(
        "--xlsx-max",
        type=int,
        default=100_000,
        help="Time the XLSX only up to this many rows (default 100000).",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the XLSX files and the end-to-end CSV in a folder (printed) instead of deleting them.",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Run each timing this many times and keep the fastest (default 1; 3 for steadier numbers).",
    )
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="Skip the extra CSV pass under tracemalloc (it runs the export a second time, slowly).",
    )
    # Internal: one measurement in a child process.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--college", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keep-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rows = sorted(set(args.rows or [10_000]))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1.")
    for n in args.rows:
        if not 1 <= n <= MAX_ROWS:
            parser.error(f"--rows must be between 1 and {MAX_ROWS:,} (SERS IDs run out), not {n}.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child(args.child, args.college, args.keep_dir)
        return 0
    configure_environment()
    try:
        config = database_settings()
        ensure_database(config)
        setup_django()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        print_header(config)
        args.keep_dir_path = tempfile.mkdtemp(prefix="sers-bench-files-") if args.keep else ""
        results = []
        for index, n in enumerate(args.rows):
            print(f"{n:,} credits", flush=True)
            college_id = ensure_rows(n)
            results.append(measure_size(n, college_id, args, first=index == 0))
    finally:
        media_cleanup()
    print_report(results)
    if args.keep:
        print(f"\nFiles kept in {args.keep_dir_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
