"""Time the demo-data generator at one scale, the way a developer runs it, and report what it wrote.

    .venv/bin/python bench/demo_data.py --scale large --keep
    .venv/bin/python bench/demo_data.py --scale small --db boxoffice_bench_small_try

It creates a scratch database (default boxoffice_bench_<scale>, dropped first if it exists) with
`flask --app wsgi db setup`, times `flask --app wsgi demo load --scale <scale>` into it, then prints the
machine, the seconds, and the exact rows and the size in MB of every table, as a Markdown table for
docs/benchmarks.md. The database is dropped at the end unless --keep is given.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from boxoffice import database  # noqa: E402
from boxoffice.config import DatabaseSettings  # noqa: E402


def flask(env: dict[str, str], *args: str) -> None:
    """Run `flask --app wsgi ...` from the project root with `env`; stop on failure."""
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def machine() -> list[str]:
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return [f"nproc: {os.cpu_count()}", f"load average at the start: {os.getloadavg()}", "free -h:", memory]


def table_sizes(settings: DatabaseSettings) -> tuple[str, list[tuple[str, int, float]]]:
    """The server version, and (table, exact rows, MB of data and indexes) for every table."""
    engine = sa.create_engine(settings.owner_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            version = connection.scalar(sa.text("SELECT VERSION()"))
            tables = connection.execute(sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                "AND table_type = 'BASE TABLE' ORDER BY table_name")).scalars().all()
            sizes = []
            for table in tables:
                # Table names come from the server's own catalogue; ANALYZE refreshes the sizes it reports.
                connection.exec_driver_sql(f"ANALYZE TABLE `{table}`").all()
                rows = connection.exec_driver_sql(f"SELECT COUNT(*) FROM `{table}`").scalar()
                megabytes = connection.scalar(sa.text(
                    "SELECT (data_length + index_length) / 1048576 FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = :t"), {"t": table})
                sizes.append((table, int(rows), float(megabytes)))
    finally:
        engine.dispose()
    return version, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "small", "medium", "large"], default="small")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", help="scratch database name (default boxoffice_bench_<scale>)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args()

    name = options.db or f"boxoffice_bench_{options.scale}"
    env = dict(os.environ, BOXOFFICE_DB=name)
    settings = DatabaseSettings.from_env(env)
    print("\n".join(machine()))
    database.drop_database(settings)
    flask(env, "db", "setup")
    started = time.monotonic()
    flask(env, "demo", "load", "--scale", options.scale, "--seed", str(options.seed))
    seconds = time.monotonic() - started
    load_after = os.getloadavg()
    version, sizes = table_sizes(settings)

    print(f"\nMariaDB {version}; `flask --app wsgi demo load --scale {options.scale} --seed {options.seed}` "
          f"into {name}: {seconds:.1f} s (load average at the end: {load_after})\n")
    print("| table | rows | MB |")
    print("|---|---:|---:|")
    for table, rows, megabytes in sorted(sizes, key=lambda size: -size[2]):
        print(f"| {table} | {rows:,} | {megabytes:.1f} |")
    print(f"| **all** | {sum(s[1] for s in sizes):,} | {sum(s[2] for s in sizes):.1f} |")
    if options.keep:
        print(f"\nKept the database {name}.")
    else:
        database.drop_database(settings)


if __name__ == "__main__":
    if shutil.which("free") is None:
        sys.exit("This benchmark reads the machine's memory with `free`.")
    main()
