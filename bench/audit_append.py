"""Audit append rate: SQLite vs PostgreSQL, one writer process and many.

    uv run python bench/audit_append.py                       # 10 s per run, 1 and 8 processes
    uv run python bench/audit_append.py --seconds 20 --processes 1 8 16 --keyed --markdown
    uv run python bench/audit_append.py --url postgresql://signoff@db/signoff   # a real server

Each run starts N fresh processes (fork) that append `step` events to one new trail as fast
as they can for the given time; an append is one write transaction (writer lock, read the
head, insert, move the head, commit), as the app does. Printed: events per second over all
writers, the p50 / p95 time of one `append` as its caller sees it (waiting for the lock
included), and whether the chain verified afterwards.

Without `--url` it starts a throwaway PostgreSQL cluster (Debian's binaries, as the tests
do) with fsync on, as a real server would run; the SQLite file is in WAL mode with Python's
default synchronous=FULL, on the same disk. Both on this machine, so PostgreSQL's figures
include no network round trip beyond loopback.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from review.audit import AuditTrail  # noqa: E402
from review.storage import close_storage  # noqa: E402
from tests.pgcluster import postgres_bindir, running_cluster  # noqa: E402

KEY = b"bench-audit-key-32-bytes-long-xx"


def writer(location: str, seconds: float, keyed: bool, barrier, results) -> None:
    trail = AuditTrail(location, key=KEY if keyed else None)
    barrier.wait()
    latencies = []
    stop = time.perf_counter() + seconds
    while (started := time.perf_counter()) < stop:
        trail.append("step", {"step": "bench", "i": len(latencies)}, analysis_id="bench")
        latencies.append(time.perf_counter() - started)
    results.put(latencies)


def run(location: str, processes: int, seconds: float, keyed: bool) -> dict:
    AuditTrail(location, key=KEY if keyed else None)  # schema first, outside the clock
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=writer, args=(location, seconds, keyed, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    latencies = sorted(x for _ in workers for x in results.get(timeout=seconds + 120))
    for worker in workers:
        worker.join(timeout=60)
    verified = AuditTrail(location, key=KEY if keyed else None).verify()
    return {
        "events": len(latencies),
        "rate": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "verified": verified.ok and verified.n_events == len(latencies),
    }


def fresh_schema(url: str) -> str:
    """A new schema on the server, so every run starts from an empty trail."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def bench(url: str, args: argparse.Namespace) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="signoff-bench-") as folder:
        for n in args.processes:
            for backend in ("sqlite", "postgresql"):
                sqlite_file = str(Path(folder) / f"audit-{n}.db")
                location = sqlite_file if backend == "sqlite" else fresh_schema(url)
                result = run(location, n, args.seconds, args.keyed)
                close_storage(location)
                rows.append((backend, n, result))
                print(
                    f"{backend:<10} {n:>2} process(es): {result['rate']:8.0f} events/s, "
                    f"append p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms, "
                    f"verified {result['verified']}",
                    flush=True,
                )
    return rows


def markdown(rows: list[tuple], args: argparse.Namespace) -> str:
    lines = [
        "| backend | writer processes | events/s | append p50 | append p95 | chain verified |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for backend, n, r in rows:
        lines.append(
            f"| {backend} | {n} | {r['rate']:,.0f} | {r['p50_ms']:.2f} ms | "
            f"{r['p95_ms']:.2f} ms | {'yes' if r['verified'] else 'NO'} |"
        )
    keyed = "keyed (HMAC-SHA256)" if args.keyed else "unkeyed (SHA-256)"
    lines.append(f"\n{args.seconds:g} s per run, {keyed} chain.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--keyed", action="store_true", help="HMAC chain under a test key")
    parser.add_argument("--url", help="an existing PostgreSQL database (else a throwaway one)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.url:
        rows = bench(args.url, args)
    else:
        bindir = postgres_bindir()
        if bindir is None:
            sys.exit("PostgreSQL is not installed (apt-get install postgresql), or pass --url.")
        with running_cluster(bindir, durable=True) as cluster:
            rows = bench(cluster.url(), args)
    if args.markdown:
        print(markdown(rows, args))


if __name__ == "__main__":
    main()
