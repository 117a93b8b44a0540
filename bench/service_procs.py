"""Processes for bench/service.py: gunicorn, outbox workers and wrk, all on 127.0.0.1.

Every process is started in its own session and registered with a `Processes` stack, whose
`close()` (run from a `finally`) stops whatever is still running, so an interrupted
benchmark leaves nothing behind.
"""

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK_DIR = ROOT / "bench" / "wrk"
STOP_TIMEOUT = 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A benchmark could not run as set up (a server did not start, wrk failed...)."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port: int, path: str, headers: dict | None = None, timeout: float = 30):
    """GET `path` from 127.0.0.1:`port`; return (status, headers, body bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


class Processes:
    """The processes one benchmark started; `close()` stops every one still alive."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._running: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        """Start `args` with output to <log_dir>/<name>.log, in a session of its own."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process.log_file = log
        process.name = name
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Ask `process` to stop (SIGTERM), then kill its whole session if it lingers."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The session id is the process's own pid (start_new_session), never ours.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        process.log_file.close()
        if process in self._running:
            self._running.remove(process)

    def close(self) -> None:
        """Stop every process still registered, newest first."""
        for process in reversed(list(self._running)):
            self.stop(process)

    def log_tail(self, process: subprocess.Popen, lines: int = 20) -> str:
        """Return the last lines of a process's log, for error messages."""
        process.log_file.flush()
        text = (self.log_dir / f"{process.name}.log").read_text("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


def start_gunicorn(
    processes: Processes, name: str, app: str, env: dict, workers: int = 2
) -> tuple[subprocess.Popen, int]:
    """Serve `app` with gunicorn sync workers on a free port; return (master, port)."""
    port = free_port()
    args = [str(BIN / "gunicorn"), "-w", str(workers), "-k", "sync"]
    args += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    # gunicorn 27 otherwise opens one shared ~/.gunicorn/gunicorn.ctl for every server.
    args += ["--no-control-socket", app]
    master = processes.start(name, args, env)
    return master, port


def wait_until_serving(processes: Processes, master, port: int, path: str, timeout=60) -> None:
    """Wait until a worker answers `path` at all; raise BenchError with the log if none does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if master.poll() is not None:
            break
        try:
            if http_get(port, path, timeout=timeout)[0] < 500:
                return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
            continue
        time.sleep(0.1)
    raise BenchError(f"{master.name} did not serve {path}:\n{processes.log_tail(master)}")


def child_pids(pid: int) -> list[int]:
    """Return the pids of `pid`'s children (gunicorn's workers, for a master)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def rss_kib(pid: int) -> int:
    """Return the resident set size of `pid` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def process_cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user + system) the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        # Fields after the command name, which may contain spaces, hence the rsplit on ")".
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """Return the CPU time all processors have spent busy since boot (from /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU used during a measurement by the server's processes, by wrk, and by everyone else.

    "Everyone else" is the machine's busy time minus the first two: other work on the same
    two cores (PostgreSQL included) that competes with the measurement.
    """

    def __init__(self, server_pids: list[int]):
        self.server_pids = server_pids

    def __enter__(self):
        self._server = process_cpu_seconds(self.server_pids)
        self._children = _children_cpu_seconds()
        self._busy = machine_busy_seconds()
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        self.server = process_cpu_seconds(self.server_pids) - self._server
        self.client = _children_cpu_seconds() - self._children
        self.elapsed = time.monotonic() - self._started
        busy = machine_busy_seconds() - self._busy
        self.other_cores = max(busy - self.server - self.client, 0) / self.elapsed


def _children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    url: str,
    *,
    duration: int,
    connections: int = 16,
    threads: int = 2,
    script: str = "report.lua",
    script_args: tuple[str, ...] = (),
    server_pids: list[int] | None = None,
) -> dict:
    """Run wrk with `--latency` and a bench/wrk script; return the script's JSON report.

    Latencies come back in microseconds; `statuses` maps each status code to its count.
    With `server_pids`, the report also says how much CPU the server and others used.
    """
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    args += ["-s", str(WRK_DIR / script), url]
    if script_args:
        args += ["--", *script_args]
    env = {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR)}
    with CpuMeter(server_pids or []) as cpu:
        result = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=duration + 60
        )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            report = _parse_report(line.removeprefix("BENCH_JSON "))
            report.update(server_cpu=cpu.server, other_cores=cpu.other_cores)
            return report
    raise BenchError(f"wrk gave no report (exit {result.returncode}):\n{result.stderr}")


def _parse_report(text: str) -> dict:
    """Decode report.lua's line; its statuses arrive as a nested JSON object."""
    report = json.loads(text)
    report["statuses"] = {int(code): count for code, count in report["statuses"].items()}
    report["seconds"] = report["duration_us"] / 1e6
    report["rps"] = report["requests"] / report["seconds"]
    return report
