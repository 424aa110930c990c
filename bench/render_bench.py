"""Benchmark ``hub render --json`` on large CSV audiences: wall time for 100,000 rows, peak memory for 1,000,000.

Run from the repository root::

    .venv/bin/python bench/render_bench.py [--rows 100000] [--memory-rows 1000000] [--record]

Goals (issue 2): 100,000 recipients in under 3 s; peak RSS for 1,000,000 under 200 MB. Each run is a fresh
``hub`` process (what CI and authors run), output to /dev/null; its peak RSS comes from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / ".venv" / "bin" / "hub"
PREFIXES = ("+49151", "+49176", "+4478", "+336")  # valid mobile ranges in phonenumbers' metadata
TEMPLATE = (
    "Hi {{ first_name }}, this is a reminder of your appointment at {{ clinic }} on {{ appointment_time }}.\n"
    "Reply YES to confirm or call us on {{ clinic_phone }} to reschedule. Reply STOP to stop reminders.\n"
)
GOAL_SECONDS = 3.0
GOAL_PEAK_MB = 200.0


def make_project(folder: Path, rows: int) -> Path:
    """Write a config, a template, a campaign and a CSV audience of ``rows`` unique valid numbers."""
    (folder / "campaigns").mkdir()
    (folder / "templates" / "messages").mkdir(parents=True)
    (folder / "audiences").mkdir()
    (folder / "config.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    (folder / "templates" / "messages" / "reminder.j2").write_text(TEMPLATE, encoding="utf-8")
    (folder / "campaigns" / "bench.yaml").write_text(
        'template: reminder.j2\nvars: {clinic_phone: "+44 20 7946 0000"}\naudience: {csv: audiences/people.csv}\n',
        encoding="utf-8",
    )
    with (folder / "audiences" / "people.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("phone,first_name,appointment_time,clinic\n")
        for i in range(rows):
            prefix = PREFIXES[i % len(PREFIXES)]
            out.write(
                f'{prefix}{i // len(PREFIXES):08d},Person{i},"Tue 1 Dec, {9 + i % 9}:{i % 60:02d}",Clinic {i % 37}\n'
            )
    return folder / "config.yaml"


def run_hub(config: Path) -> tuple[float, float, int]:
    """Run ``hub render bench --json`` once; return (wall seconds, peak RSS in MB, exit code)."""
    command = [str(HUB), "--config", str(config), "render", "bench", "--json"]
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    summary = process.stderr.read().decode().strip()
    if process.returncode != 0:
        raise SystemExit(f"hub render failed ({process.returncode}): {summary}")
    print(f"  {summary}", file=sys.stderr)
    return elapsed, usage.ru_maxrss / 1024, process.returncode  # ru_maxrss is KiB on Linux


def measure(rows: int, repeats: int) -> tuple[list[float], float]:
    folder = Path(tempfile.mkdtemp(prefix="hub-render-bench-"))
    try:
        config = make_project(folder, rows)
        results = [run_hub(config) for _ in range(repeats)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [seconds for seconds, _, _ in results], max(peak for _, peak, _ in results)


def machine() -> str:
    with open("/proc/meminfo", encoding="utf-8") as handle:
        total_kib = int(handle.readline().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{total_kib / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the timing run")
    parser.add_argument("--memory-rows", type=int, default=1_000_000, help="rows for the peak-memory run")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs (the best and the median are reported)")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()

    print(f"timing: {args.rows} rows x {args.repeats}", file=sys.stderr)
    times, peak_small = measure(args.rows, args.repeats)
    print(f"memory: {args.memory_rows} rows", file=sys.stderr)
    big_times, peak_big = measure(args.memory_rows, 1)
    times.sort()
    median = times[len(times) // 2]
    lines = [
        f"- {args.rows:,} recipients: best {times[0]:.2f} s, median {median:.2f} s of {args.repeats} "
        f"(goal < {GOAL_SECONDS:.0f} s: {'met' if median < GOAL_SECONDS else 'MISSED'}); peak RSS {peak_small:.0f} MB",
        f"- {args.memory_rows:,} recipients: {big_times[0]:.2f} s, peak RSS {peak_big:.0f} MB "
        f"(goal < {GOAL_PEAK_MB:.0f} MB: {'met' if peak_big < GOAL_PEAK_MB else 'MISSED'})",
    ]
    print("\n".join(lines))
    if args.record:
        section = [
            "",
            f"## hub render --json ({dt.date.today().isoformat()})",
            "",
            f"Machine: {machine()}.",
            "",
            f"Command: `.venv/bin/python bench/render_bench.py {' '.join(sys.argv[1:])}` (each run: "
            "`hub --config TMP/config.yaml render bench --json > /dev/null`, a fresh process; a CSV campaign with "
            "a 2-line template file, 4 variables, unique valid numbers from 4 countries; peak RSS via `os.wait4`).",
            "",
            *lines,
            "",
            "The machine was shared with other jobs while measuring (load average "
            f"{os.getloadavg()[0]:.1f}); the best run is the closest to the code's own cost.",
            "",
        ]
        results = ROOT / "bench" / "RESULTS.md"
        if not results.exists():
            section.insert(0, "# Benchmark results")
        with results.open("a", encoding="utf-8") as out:
            out.write("\n".join(section))


if __name__ == "__main__":
    main()
