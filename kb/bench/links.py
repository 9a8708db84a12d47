"""How fast and how polite the link checker is: `kb bench linkcheck` (a benchmark run, never a timed test).

One server process (`kb.bench.linkserver`) listens on 127.0.0.1 to 127.0.0.20 and answers every request 50 ms after it
arrives, counting the requests in flight per address. The checker checks 2,000 URLs spread over those 20 hosts
with 4 requests per host at most, so the ceiling is 20 x 4 / 0.05 s = 1,600 URLs/s. The same URLs, listed on one
HTML page, are then checked by linkinator (installed with npm into `build/bench-node/`, a pinned version).

Each checker runs in its own process: its start-up (interpreter or Node, imports) is reported apart from its
checking time, and its peak memory is the process's peak resident set (VmHWM). The two checkers take turns for
`rounds` rounds (default 5), so that a busy moment of the machine hits both, and each figure is the median over the
rounds, the rounds' URLs/s listed beside it. Numbers depend on the machine and on what else it runs: the result
file records the CPU, the core count and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kb import paths
from kb.bench.environment import environment as machine_environment
from kb.bench.environment import setup_tag
from kb.catalog.yamlio import write_atomic
from kb.links.checker import CheckOptions, LinkChecker
from kb.links.results import utc_now

NODE_PREFIX = paths.ROOT / "build" / "bench-node"
LINKINATOR = "linkinator@7.6.1"
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


async def check(url_file: Path, per_host: int) -> dict[str, Any]:
    """Check the URLs of `url_file` as `kb linkcheck` does; time the checking alone."""
    urls = url_file.read_text().split()
    options = CheckOptions(allow_private=True, per_host=per_host, concurrency=10_000, retries=0)
    async with LinkChecker(options) as checker:
        started, cpu = time.perf_counter(), time.process_time()
        results = await checker.check_all(urls)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
    return {"check_s": seconds, "check_cpu_s": cpu, "statuses": statuses}


def _clean_env() -> dict[str, str]:
    """The environment without proxy settings: every request must go to the local server."""
    return {key: value for key, value in os.environ.items() if key not in _PROXY_VARIABLES} | {"NO_PROXY": "*"}


def _peak_memory(pid: int, peak: list[int]) -> None:
    """Follow the process's VmHWM (peak resident memory since its exec) until it ends.

    Not `ru_maxrss`: that keeps the resident size the child had before its exec, a copy of this (large) process.
    """
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
        except (OSError, StopIteration):
            return
        peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.01)


def _timed(command: list[str]) -> tuple[float, dict[str, float], str]:
    """Run `command`; its wall time, its CPU time and peak resident memory (MiB), and its standard output."""
    # Output goes to a file, not a pipe: Node cuts piped output short when a program ends with process.exit().
    with tempfile.TemporaryFile() as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL, env=_clean_env())
        peak = [0]
        watcher = threading.Thread(target=_peak_memory, args=(process.pid, peak), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        watcher.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        sink.seek(0)
        out = sink.read().decode()
    used = {"cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "peak_memory_mib": round(peak[0] / 1024, 1)}
    return wall, used, out


def _stats(port: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/__stats")
    stats = json.loads(connection.getresponse().read())
    connection.close()
    return {"requests": stats["requests"], "max_in_flight_per_host": max(stats["peak_per_host"].values(), default=0)}


def install_linkinator() -> Path | None:
    """Install the pinned linkinator into `build/bench-node/` (once); its command, or None without npm."""
    binary = NODE_PREFIX / "node_modules" / ".bin" / "linkinator"
    if not binary.exists():
        if shutil.which("npm") is None:
            return None
        NODE_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund", LINKINATOR],
            check=True,
            capture_output=True,
        )
    return binary


def environment() -> dict[str, Any]:
    """What the numbers depend on: the machine, httpx, node (for linkinator), and the load average."""
    node = None
    if shutil.which("node"):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {**machine_environment(["httpx"]), "node": node}


def _median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One checker's rounds as one record: medians of the numbers, the worst in-flight peak, every round's URLs/s."""
    merged: dict[str, Any] = {}
    for key, value in rounds[0].items():
        values = [r[key] for r in rounds]
        if key == "max_in_flight_per_host":
            merged[key] = max(values)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = round(statistics.median(values), 3)
        else:
            merged[key] = value if all(v == value for v in values) else values
    merged["urls_per_s_rounds"] = [r["urls_per_s"] for r in rounds]
    return merged


def _ours(url_file: Path, urls: int, per_host: int, port: int) -> dict[str, Any]:
    wall, used, out = _timed([sys.executable, "-m", "kb.bench.links", str(url_file), str(per_host)])
    checked = json.loads(out)
    return {
        "startup_s": round(wall - checked["check_s"], 3),
        "check_s": round(checked["check_s"], 3),
        "urls_per_s": round(urls / checked["check_s"], 1),
        **used,
        "check_cpu_ms_per_url": round(1000 * checked["check_cpu_s"] / urls, 3),
        "statuses": checked["statuses"],
        **_stats(port),
    }


def run_linkcheck_benchmark(
    urls: int = 2000, hosts: int = 20, delay: float = 0.05, per_host: int = 4, linkinator: bool = True, rounds: int = 5
) -> dict[str, Any]:
    """Serve `urls` URLs over `hosts` loopback hosts; check them with our checker (and linkinator), `rounds` times."""
    report: dict[str, Any] = {
        "date": utc_now(),
        "urls": urls,
        "hosts": hosts,
        "delay_s": delay,
        "per_host": per_host,
        "rounds": rounds,
        "ceiling_urls_per_s": hosts * per_host / delay,
        "environment": environment(),
    }
    binary = install_linkinator() if linkinator else None
    with tempfile.TemporaryDirectory(prefix="kb-linkbench-") as tmp:
        url_file = Path(tmp) / "urls.txt"
        server = subprocess.Popen(
            [sys.executable, "-m", "kb.bench.linkserver", str(hosts), str(delay), str(url_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_clean_env(),
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            url_file.write_text("".join(f"http://127.0.0.{1 + i % hosts}:{port}/page/{i}\n" for i in range(urls)))
            ours: list[dict[str, Any]] = []
            theirs: list[dict[str, Any]] = []
            for _ in range(rounds):
                ours.append(_ours(url_file, urls, per_host, port))
                if binary is not None:
                    theirs.append(_run_linkinator(binary, port, urls, hosts * per_host))
            report["kb_linkcheck"] = _median_of(ours)
            if theirs:
                report["linkinator"] = _median_of(theirs)
        finally:
            server.communicate(b"", timeout=30)
    report["environment"]["load_average_after"] = list(os.getloadavg())
    return report


def _run_linkinator(binary: Path, port: int, urls: int, concurrency: int) -> dict[str, Any]:
    startup, _, version = _timed([str(binary), "--version"])
    page = f"http://127.0.0.1:{port}/bench.html"
    # --concurrency set to the same total as ours (hosts x per_host); the server reports what it saw per host.
    wall, used, out = _timed(
        [str(binary), page, "--format", "json", "--concurrency", str(concurrency), "--timeout", "30000"]
    )
    links = json.loads(out).get("links", []) if out.strip().startswith("{") else []
    statuses: dict[str, int] = {}
    for item in links:
        statuses[item.get("state", "?")] = statuses.get(item.get("state", "?"), 0) + 1
    check = max(wall - startup, 1e-9)
    return {
        "version": version.strip(),
        "startup_s": round(startup, 3),
        "check_s": round(check, 3),
        "urls_per_s": round(urls / check, 1),
        **used,
        "statuses": statuses,
        **_stats(port),
    }


def setup_name(env: dict[str, Any]) -> str:
    """The file-name tag of a run's setup, e.g. `py311-httpx0.28.1-amd-epyc-2c`."""
    return f"py{env['python'].replace('.', '')[:3]}-httpx{env['versions']['httpx']}-{setup_tag(env)}"


def _write(report: dict[str, Any], out: Path | None) -> int:
    out = out or paths.BENCH_RESULTS / f"linkcheck.{setup_name(report['environment'])}.json"
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    report = run_linkcheck_benchmark(
        args.urls, args.hosts, args.delay, args.per_host, not args.no_linkinator, args.rounds
    )
    return _write(report, args.out)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kb bench linkcheck`."""
    parser.add_argument("--urls", type=int, default=2000, help="URLs to check (default 2000)")
    parser.add_argument("--hosts", type=int, default=20, help="loopback hosts 127.0.0.1..N (default 20)")
    parser.add_argument("--delay", type=float, default=0.05, help="server answer delay in seconds (default 0.05)")
    parser.add_argument("--per-host", type=int, default=4, help="requests in flight per host (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="turns of each checker; medians reported (default 5)")
    parser.add_argument("--no-linkinator", action="store_true", help="skip the linkinator side-by-side")
    parser.add_argument("--out", type=Path, help="result file (default results/bench/linkcheck.<setup>.json)")
    parser.set_defaults(handler=_bench)


if __name__ == "__main__":  # our checker, in its own process
    print(json.dumps(asyncio.run(check(Path(sys.argv[1]), int(sys.argv[2])))))
