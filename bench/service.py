"""Load figures for the booking service (leadform), each compared within the same run.

Run from the repository root: `.venv/bin/python -m bench.service` (or `make bench-service`).
Parts, chosen with --only (default: all):

- get: GET /book vs a bare Flask "hello" (bench/hello_app.py), both under
  `gunicorn -w 2` sync workers, `wrk -t2 -c16 -d10s --latency`: requests/s and p99.
- post: POST /book with distinct free slots (bench/wrk/book_post.lua), counting successful
  bookings (303) per second and cross-checking the rows in the database.
- slowprovider: the same POST with LEADFORM_MAIL_BACKEND=sendgrid aimed at a stand-in that
  answers after 2 s, an outbox worker sending meanwhile; booking latency vs the plain POST.
- outbox: 1,000 queued emails to a fast stand-in; emails/s with one and two workers on
  PostgreSQL, one worker on SQLite.
- memory: RSS of one gunicorn worker (-w 1) every 1,000 of 10,000 requests.

Every server, worker and database it creates is removed before it exits; figures are printed,
never asserted. All traffic stays on 127.0.0.1.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bench.service_booking import (
    SLOTS_PER_DAY,
    add_past_bookings,
    bookable_slot_values,
    leadform_env,
    queue_booking_emails,
    write_post_data,
    write_roomy_site,
)
from bench.service_db import BenchDatabase, postgres_available
from bench.service_procs import (
    ROOT,
    BenchError,
    CpuMeter,
    Processes,
    child_pids,
    http_get,
    rss_kib,
    run_wrk,
    start_gunicorn,
    wait_until_serving,
)
from bench.service_standin import SendGridStandIn

PARTS = ("get", "post", "slowprovider", "outbox", "memory")
LEADFORM_APP = "leadform:create_app()"
HELLO_APP = "bench.hello_app:create_app()"
SITE_FILE = ROOT / "site.toml"
# Far more slots than the fastest plausible POST rate can use in one run.
MAX_BOOKINGS_PER_SECOND = 800
SLOW_PROVIDER_SECONDS = 2.0
OUTBOX_EMAILS = 1000
PAST_BOOKINGS = 2000  # about four years of two sessions every working day
MEMORY_REQUESTS = 10_000
MEMORY_SAMPLE_EVERY = 1000


@dataclass
class Bench:
    """What every part shares: options, a temporary folder, processes, databases, results."""

    args: argparse.Namespace
    tmp: Path
    processes: Processes
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    databases: list[BenchDatabase] = field(default_factory=list)

    def report(self, part: str, what: str, value: str) -> None:
        """Record a row of the final table and show it at once, as progress."""
        self.rows.append((part, what, value))
        print(f"  {part:<13} {what:<58} {value}", file=sys.stderr, flush=True)

    def database(self, kind: str, site_file: Path) -> BenchDatabase:
        """Create and migrate a fresh database, remembered so that it is dropped at the end."""
        database = BenchDatabase(kind, self.tmp)
        self.databases.append(database)
        return database.create(self.env(database, site_file))

    def env(self, database: BenchDatabase, site_file: Path, **extra: str) -> dict:
        """The environment of a leadform process on `database` with `site_file`."""
        return leadform_env(os.environ, self.tmp, database.url, site_file) | extra

    def close(self) -> None:
        """Stop every process and drop every database this run created."""
        self.processes.close()
        for database in self.databases:
            database.drop()


# --- Serving ------------------------------------------------------------------------------


def serve(bench: Bench, name: str, app: str, env: dict, workers: int = 2) -> tuple:
    """Start gunicorn for `app`; return (master, port) once all its workers have booted."""
    master, port = start_gunicorn(bench.processes, name, app, env, workers)
    wait_until_serving(bench.processes, master, port, "/healthz" if app == LEADFORM_APP else "/")
    deadline = time.monotonic() + 30
    while len(child_pids(master.pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # let the last worker finish importing the app
    return master, port


def wrk_get(bench: Bench, master, port: int, path: str, connections: int | None = None) -> dict:
    """Warm up for 2 s, then measure GET `path` (16 connections unless told otherwise)."""
    url = f"http://127.0.0.1:{port}{path}"
    connections = connections or bench.args.connections
    run_wrk(url, duration=2, connections=connections, threads=min(2, connections))
    return run_wrk(
        url,
        duration=bench.args.duration,
        connections=connections,
        threads=min(2, connections),
        server_pids=child_pids(master.pid),
    )


def describe(report: dict) -> str:
    """Summarise a wrk report: rate, p50, p99, server CPU per request, competing load."""
    text = f"{report['rps']:,.0f} req/s, p50 {ms(report['p50_us'])}, p99 {ms(report['p99_us'])}"
    text += cpu_note(report, report["requests"], "req")
    odd = {code: n for code, n in report["statuses"].items() if code >= 400}
    if odd or report["socket_errors"]:
        text += f" (non-2xx/3xx {odd}, socket errors {report['socket_errors']})"
    return text


def cpu_note(report: dict, count: int, per: str) -> str:
    """Server CPU per unit of work and the cores other processes used meanwhile.

    CPU per request hardly depends on what else runs on the machine, unlike requests/s.
    """
    cpu_ms = report["server_cpu"] * 1000 / max(count, 1)
    return f"; {cpu_ms:.1f} ms worker CPU/{per}, other load {report['other_cores']:.2f} cores"


def ms(microseconds: float) -> str:
    """Format microseconds as milliseconds."""
    return f"{microseconds / 1000:.1f} ms"


# --- Part 1: GET /book and the hello yardstick ---------------------------------------------


def measure_hello(bench: Bench) -> dict:
    """Requests/s and latency of the bare Flask app served the same way as leadform."""
    master, port = serve(bench, "hello", HELLO_APP, dict(os.environ))
    try:
        report = wrk_get(bench, master, port, "/")
    finally:
        bench.processes.stop(master)
    bench.report("hello", "GET / (bare Flask, gunicorn -w 2)", describe(report))
    bench.figures["hello"] = report
    return report


def part_get(bench: Bench) -> None:
    """GET /book on the normal site.toml, on each database, against the hello endpoint."""
    hello = bench.figures.get("hello") or measure_hello(bench)
    for kind in bench.args.databases:
        report, unqueued, with_history = retry_once(bench, "get", kind, get_runs, bench, kind)
        bench.report("get", f"GET /book ({kind}, site.toml)", describe(report))
        bench.report("get", f"  same at 2 connections ({kind})", describe(unqueued))
        what = f"  2 connections, {PAST_BOOKINGS:,} past bookings stored ({kind})"
        bench.report("get", what, describe(with_history))
        ratio = report["rps"] / hello["rps"]
        bench.report("get", f"  GET /book req/s / hello req/s ({kind})", f"{ratio:.3f}")
        verdict = "met" if report["p99_us"] < 20_000 else "NOT met"
        bench.report("get", f"  goal p99 < 20 ms at 16 conns ({kind})", f"{verdict}")


def get_runs(bench: Bench, kind: str) -> tuple[dict, dict, dict]:
    """GET /book at 16 and 2 connections, then at 2 with a few years of past bookings."""
    database = bench.database(kind, SITE_FILE)
    master, port = serve(bench, f"get-{kind}", LEADFORM_APP, bench.env(database, SITE_FILE))
    try:
        report = wrk_get(bench, master, port, "/book")
        # One connection per worker: the service time itself, without queueing.
        unqueued = wrk_get(bench, master, port, "/book", connections=2)
        add_past_bookings(database.url, PAST_BOOKINGS)
        with_history = wrk_get(bench, master, port, "/book", connections=2)
    finally:
        bench.processes.stop(master)
    for result in (report, unqueued, with_history):
        check_no_server_errors(result)
    return report, unqueued, with_history


def check_no_server_errors(report: dict) -> None:
    """Refuse a run with 5xx answers: here they mean the database went away meanwhile."""
    errors = {code: n for code, n in report["statuses"].items() if code >= 500}
    if errors:
        raise BenchError(f"the server answered {errors} during the run")


def retry_once(bench: Bench, part: str, what: str, run, *args):
    """Call run(*args); after a failure, say so and try once more.

    Other work on this shared machine (a test restarting PostgreSQL, say) can spoil a run.
    """
    try:
        return run(*args)
    except (BenchError, SQLAlchemyError) as exc:
        bench.report(part, f"{what}: retrying after a failure", " ".join(str(exc).split())[:200])
        time.sleep(10)
        return run(*args)


# --- Part 1b and 2: POST /book, with and without a slow provider ---------------------------


def roomy_site(bench: Bench) -> Path:
    """The bench calendar: a slot every 90 minutes, every day, as far ahead as needed."""
    path = bench.tmp / "bench_site.toml"
    if not path.exists():
        write_roomy_site(path, horizon_days=slots_needed(bench) // SLOTS_PER_DAY + 3)
    return path


def slots_needed(bench: Bench) -> int:
    """Distinct slots one POST run may use, with room to spare."""
    return MAX_BOOKINGS_PER_SECOND * bench.args.duration


def post_run(bench: Bench, label: str, kind: str, provider: SendGridStandIn | None = None):
    """Book as fast as wrk can on a fresh database; return (report, booking rows, emails)."""
    site = roomy_site(bench)
    database = bench.database(kind, site)
    env = bench.env(database, site, **(_sendgrid_env(provider.url) if provider else {}))
    master, port = serve(bench, f"post-{label}-{kind}", LEADFORM_APP, env)
    worker = None
    try:
        if provider:
            worker = bench.processes.start(f"worker-{label}", _worker_command(), env)
            time.sleep(2)  # the worker is polling before the first booking arrives
        data = _prepare_post(bench, port, site)
        report = run_wrk(
            f"http://127.0.0.1:{port}/book",
            duration=bench.args.duration,
            connections=bench.args.connections,
            script="book_post.lua",
            script_args=(str(data), "2"),  # wrk's thread count: each takes every 2nd slot
            server_pids=child_pids(master.pid),
        )
    finally:
        if worker is not None:
            bench.processes.stop(worker)
        bench.processes.stop(master)
    check_no_server_errors(report)
    rows = database.scalar("SELECT count(*) FROM bookings")
    emails = database.scalar("SELECT count(*) FROM outbox_messages")
    return report, rows, emails


def _prepare_post(bench: Bench, port: int, site: Path) -> Path:
    """Open one session with a real GET and write the POST data file with enough slots."""
    slots, list_seconds, offered = bookable_slot_values(site, slots_needed(bench))
    if "roomy_get" not in bench.figures:
        get_seconds = median_get_seconds(port, "/book")
        bench.figures["roomy_get"] = (get_seconds, list_seconds, offered)
    return write_post_data(bench.tmp / f"post-{port}.txt", port, slots)


def median_get_seconds(port: int, path: str, times: int = 5) -> float:
    """Median time of a few sequential GETs of `path`."""
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        http_get(port, path, timeout=120)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def _sendgrid_env(host: str) -> dict:
    """Settings that send through the official client to a stand-in at `host`."""
    return {
        "LEADFORM_MAIL_BACKEND": "sendgrid",
        "LEADFORM_SENDGRID_HOST": host,
        "LEADFORM_SENDGRID_API_KEY": "SG.bench-not-a-key",
        "LEADFORM_OUTBOX_POLL_SECONDS": "0.1",
    }


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "leadform", "outbox", "run"]


def bookings_per_second(report: dict) -> float:
    """Successful bookings (303 answers) per second of a POST run."""
    return report["statuses"].get(303, 0) / report["seconds"]


def describe_post(report: dict, rows: int, emails: int) -> str:
    """Summarise a POST run: successful bookings/s, latency and the database cross-check."""
    booked = report["statuses"].get(303, 0)
    text = f"{bookings_per_second(report):,.0f} bookings/s ({booked} x 303 of "
    text += f"{report['requests']} answers; {rows} rows, {emails} emails in the database)"
    text += f", p50 {ms(report['p50_us'])}, p99 {ms(report['p99_us'])}"
    text += cpu_note(report, booked, "booking")
    others = {code: n for code, n in report["statuses"].items() if code != 303}
    if others or report["exhausted"] or report["socket_errors"]:
        text += f" (other {others}, slots exhausted {report['exhausted']},"
        text += f" socket errors {report['socket_errors']})"
    return text


def part_post(bench: Bench) -> None:
    """POST /book on each database; successful bookings/s against hello requests/s."""
    hello = bench.figures.get("hello") or measure_hello(bench)
    for kind in bench.args.databases:
        report, rows, emails = retry_once(bench, "post", kind, post_run, bench, "plain", kind)
        bench.figures.setdefault(f"post-{kind}", []).append(report)
        bench.report(
            "post", f"POST /book ({kind}, bench calendar)", describe_post(report, rows, emails)
        )
        ratio = bookings_per_second(report) / hello["rps"]
        verdict = "met" if ratio >= 0.25 else "NOT met"
        bench.report(
            "post", f"  goal bookings/s >= 0.25 x hello req/s ({kind})", f"{ratio:.3f}: {verdict}"
        )
    get_seconds, list_seconds, offered = bench.figures["roomy_get"]
    what = f"  bench calendar: slots.py lists its {offered:,} free slots in"
    bench.report("post", what, f"{list_seconds:.2f} s")
    bench.report(
        "post", "  bench calendar: one GET /book takes (median of 5)", f"{get_seconds:.2f} s"
    )


def part_slowprovider(bench: Bench) -> None:
    """POST /book while a worker sends to a 2-second provider, vs POST with nothing sending.

    Runs alternate plain, slow, slow, plain, plain, slow, so that drifting load from other work
    on the machine hits both kinds alike; the medians are compared.
    """
    kind = "sqlite"
    runs = {"plain": list(bench.figures.get(f"post-{kind}", [])), "slow": []}
    with SendGridStandIn(delay=SLOW_PROVIDER_SECONDS) as provider:
        for turn in range(bench.args.repeat):
            for label in ("plain", "slow") if turn % 2 == 0 else ("slow", "plain"):
                if len(runs[label]) > turn:
                    continue  # part "post" has just measured this plain run
                args = (bench, kind, label, provider)
                report = retry_once(bench, "slowprovider", label, _slowprovider_run, *args)
                runs[label].append(report)
    for key, what in (("p50_us", "p50"), ("p99_us", "p99"), ("bookings/s", "bookings/s")):
        ratio = _median(runs["slow"], key) / _median(runs["plain"], key)
        bench.report(
            "slowprovider", f"  {what} with slow provider / without (medians)", f"{ratio:.2f}"
        )
    for label in ("slow", "plain"):
        p50s = ", ".join(ms(report["p50_us"]) for report in runs[label])
        bench.report("slowprovider", f"  p50 of each {label} run (run-to-run spread)", p50s)
    cpu = {label: _median(reports, "cpu/booking") for label, reports in runs.items()}
    what = "  worker CPU per booking: slow provider / nothing sending"
    bench.report("slowprovider", what, f"{cpu['slow']:.1f} ms / {cpu['plain']:.1f} ms")
    # A booking that waited for the provider would take at least its 2 seconds.
    slowest = {label: ms(max(r["max_us"] for r in reports)) for label, reports in runs.items()}
    what = "  slowest booking: slow provider / nothing sending"
    bench.report("slowprovider", what, f"{slowest['slow']} / {slowest['plain']}")


def _slowprovider_run(bench: Bench, kind: str, label: str, provider: SendGridStandIn) -> dict:
    """One POST run, with the worker sending to `provider` when `label` is "slow"."""
    sent_before = provider.accepted
    report, rows, emails = post_run(bench, label, kind, provider if label == "slow" else None)
    text = describe_post(report, rows, emails)
    if label == "slow":
        text += f"; {provider.accepted - sent_before} emails sent during the run"
    what = "worker sending to a 2 s provider" if label == "slow" else "nothing sending"
    bench.report("slowprovider", f"POST /book ({kind}, {what})", text)
    return report


def _median(reports: list[dict], key: str) -> float:
    """Median of `key` over POST reports, or of "bookings/s" or "cpu/booking" (in ms)."""
    derived = {
        "bookings/s": bookings_per_second,
        "cpu/booking": lambda r: r["server_cpu"] * 1000 / max(r["statuses"].get(303, 0), 1),
    }
    return statistics.median(derived[key](r) if key in derived else r[key] for r in reports)


# --- Part 3: outbox throughput -------------------------------------------------------------


def outbox_run(bench: Bench, kind: str, workers: int, provider: SendGridStandIn) -> dict:
    """Deliver OUTBOX_EMAILS queued emails with `workers` workers; return rates and times."""
    site = roomy_site(bench)
    database = bench.database(kind, site)
    slots = bookable_slot_values(site, OUTBOX_EMAILS // 2)[0]
    queue_booking_emails(database.url, site, slots)
    # Hold the queue back until every worker is up, so all start on equal terms.
    database.execute("UPDATE outbox_messages SET next_attempt_at = :later", later=_utc_in(3600))
    env = bench.env(database, site, **_sendgrid_env(provider.url))
    started = [
        bench.processes.start(f"outbox-{kind}-{workers}-{n}", _worker_command(), env)
        for n in range(workers)
    ]
    try:
        time.sleep(4)
        if any(worker.poll() is not None for worker in started):
            raise BenchError(f"an outbox worker exited:\n{bench.processes.log_tail(started[0])}")
        with CpuMeter([worker.pid for worker in started]) as cpu:
            result = _release_and_time(database)
        return result | {"cpu": cpu}
    finally:
        for worker in started:
            bench.processes.stop(worker)


def _release_and_time(database: BenchDatabase) -> dict:
    """Make the whole queue due at once and time its delivery."""
    queued = database.scalar("SELECT count(*) FROM outbox_messages")
    t0 = time.perf_counter()
    database.execute("UPDATE outbox_messages SET next_attempt_at = :now", now=_utc_in(0))
    deadline = t0 + 600
    done = 0
    while done < queued and time.perf_counter() < deadline:
        time.sleep(0.05)
        done = database.scalar("SELECT count(*) FROM outbox_messages WHERE status <> 'queued'")
    wall = time.perf_counter() - t0
    sent = database.scalar("SELECT count(*) FROM outbox_messages WHERE status = 'sent'")
    first = _as_datetime(database.scalar("SELECT min(started_at) FROM delivery_attempts"))
    last = _as_datetime(database.scalar("SELECT max(finished_at) FROM delivery_attempts"))
    span = (last - first).total_seconds()
    return {"queued": queued, "sent": sent, "wall": wall, "span": span}


def _as_datetime(value) -> datetime:
    """Read a datetime from a query; SQLite's min()/max() hand back the stored text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _utc_in(seconds: float) -> datetime:
    """Naive UTC `seconds` from now, the form the outbox columns store."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(tzinfo=None)


def part_outbox(bench: Bench) -> None:
    """Emails/s of the outbox worker(s) against a stand-in that answers at once."""
    runs = [(kind, 1) for kind in bench.args.databases]
    if "postgres" in bench.args.databases:
        runs.insert(runs.index(("postgres", 1)) + 1, ("postgres", 2))
    with SendGridStandIn(delay=0) as provider:
        for kind, workers in runs:
            what = f"{kind}, {workers} worker(s)"
            result = retry_once(bench, "outbox", what, outbox_run, bench, kind, workers, provider)
            bench.report("outbox", what, _describe_outbox(result))


def _describe_outbox(result: dict) -> str:
    """Summarise an outbox run: emails/s, times, worker CPU per email, competing load."""
    rate = result["sent"] / result["wall"]
    cpu = result["cpu"]
    text = f"{rate:,.0f} emails/s ({result['sent']} of {result['queued']} sent in "
    text += f"{result['wall']:.2f} s; first try to last in the database {result['span']:.2f} s)"
    text += f"; {cpu.server * 1000 / max(result['sent'], 1):.1f} ms worker CPU/email"
    return text + f", other load {cpu.other_cores:.2f} cores"


# --- Part 4: memory of one worker ----------------------------------------------------------


def part_memory(bench: Bench) -> None:
    """RSS of a single gunicorn worker every 1,000 requests, up to 10,000."""
    database = bench.database("sqlite", SITE_FILE)
    env = bench.env(database, SITE_FILE)
    master, port = serve(bench, "memory", LEADFORM_APP, env, workers=1)
    try:
        (worker,) = child_pids(master.pid)
        paths = ["/book", "/healthz"] if http_get(port, "/healthz")[0] == 200 else ["/book"]
        series = [rss_kib(worker)]
        for block in range(MEMORY_REQUESTS // MEMORY_SAMPLE_EVERY):
            _request_block(port, paths, MEMORY_SAMPLE_EVERY, offset=block)
            series.append(rss_kib(worker))
        still = child_pids(master.pid) == [worker]
    finally:
        bench.processes.stop(master)
    _report_memory(bench, series, paths, still)


def _request_block(port: int, paths: list[str], count: int, offset: int) -> None:
    """Send `count` GETs alternating over `paths` from two client threads."""
    targets = [paths[(offset + n) % len(paths)] for n in range(count)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda path: http_get(port, path)[0], targets))
    if any(status != 200 for status in statuses):
        raise BenchError(f"memory run: non-200 answers {sorted(set(statuses))}")


def _report_memory(bench: Bench, series: list[int], paths: list[str], same_worker: bool) -> None:
    mib = [kib / 1024 for kib in series]
    points = ", ".join(f"{value:.1f}" for value in mib)
    bench.report("memory", f"worker RSS MiB at 0..10,000 requests ({' + '.join(paths)})", points)
    half = len(mib) // 2
    growth = mib[-1] - mib[half]
    bench.report("memory", "  growth over the last 5,000 requests", f"{growth:+.1f} MiB")
    if not same_worker:
        bench.report("memory", "  WARNING", "the worker was replaced during the run")


# --- Command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the options; --only and --db take comma-separated lists."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.service", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"parts to run, from {','.join(PARTS)}"
    )
    parser.add_argument("--db", default="sqlite,postgres", help="databases for get/post/outbox")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="slowprovider: runs of each kind, alternated (3)"
    )
    args = parser.parse_args(argv)
    args.parts = [part for part in args.only.split(",") if part]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(
            f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}"
        )
    args.databases = [kind for kind in args.db.split(",") if kind]
    if "postgres" in args.databases and not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432; SQLite only.", file=sys.stderr)
        args.databases.remove("postgres")
    return args


def print_table(bench: Bench) -> None:
    """Print every recorded row, grouped by part."""
    args = bench.args
    settings = f"wrk -t2 -c{args.connections} -d{args.duration}s --latency"
    print(f"\nBooking service benchmark ({os.cpu_count()} CPUs, {settings})")
    width = max((len(what) for _, what, _ in bench.rows), default=10)
    for part, what, value in bench.rows:
        print(f"{part:<13} {what:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts, print the table; stop and remove everything on the way out."""
    args = parse_args(argv)
    steps = {"get": part_get, "post": part_post, "slowprovider": part_slowprovider}
    steps |= {"outbox": part_outbox, "memory": part_memory}
    with tempfile.TemporaryDirectory(prefix="leadform-bench-") as tmp:
        bench = Bench(args, Path(tmp), Processes(Path(tmp)))
        failed = False
        try:
            for part in (part for part in PARTS if part in args.parts):
                failed |= not run_part(bench, part, steps[part])
        finally:
            bench.close()
            print_table(bench)
    return 1 if failed else 0


def run_part(bench: Bench, part: str, step) -> bool:
    """Run one part; on failure record why and carry on with the next part."""
    try:
        step(bench)
    except (BenchError, SQLAlchemyError) as exc:
        # E.g. another process on this shared machine restarting PostgreSQL mid-run.
        bench.report(part, "FAILED", " ".join(str(exc).split())[:300])
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
