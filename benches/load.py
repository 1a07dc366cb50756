#!/usr/bin/env python3
"""Load on the example server (apps/server), one endpoint at a time, on loopback.

Starts the release build of the server (build it first; see benches/README.md) with
apps/server/config.example.json, pinned to core SERVER_CPU (default 1) when `taskset`
exists, its per-request log to /dev/null; runs `wrk` (Debian's package) pinned to core
WRK_CPU (default 0) against each endpoint for DURATION seconds (default 5) at 1 and at 16
connections, ROUNDS times (default 3) interleaved; stops the server by its PID; and prints
the median of the rounds as a Markdown table.

The share of a request spent in the library is criterion's figure for `cm::handle_request`
on the same target (`cargo bench --bench cm_request`, read from target/criterion) over the
server's CPU time per request (user + system time from /proc/<pid>/stat across the wrk run,
divided by the requests wrk completed): CPU time, unlike throughput, hardly moves when other
processes load the machine. The facade's time over wrk's median round trip at one connection
is its share of what a client waits for.

Environment: LISTEN (default 127.0.0.1:18089), DURATION, ROUNDS, SERVER_CPU, WRK_CPU.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "apps/server/target/release/cardadmin-server")
CONFIG = os.path.join(ROOT, "apps/server/config.example.json")
LISTEN = os.environ.get("LISTEN", "127.0.0.1:18089")
DURATION = int(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SERVER_CPU = os.environ.get("SERVER_CPU", "1")
WRK_CPU = os.environ.get("WRK_CPU", "0")

REQ = "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"
CARD = "cardid=bc88f13f-83ba-4037-8262-46eba1291c6e"
# (name, target, criterion bench under target/criterion/handle_request/, expected status)
ENDPOINTS = [
    ("authenticationresponse (documented)",
     f"{REQ}/authenticationresponse?{CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
     "authenticationresponse_not_diversified", 200),
    ("authenticationresponse, diversified=True",
     f"{REQ}/authenticationresponse?{CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=True",
     "authenticationresponse_diversified", 200),
    ("diversifiedkey", f"{REQ}/diversifiedkey?{CARD}", "diversifiedkey", 200),
    ("serverproposedpin (MIM's example)",
     "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
     "serverproposedpin", 200),
    ("400: unencoded '+'",
     f"{REQ}/authenticationresponse?{CARD}&challenge=1hFD+cz/0so=&diversified=False",
     "bad_request_unencoded_plus", 400),
]
CONNECTIONS = [1, 16]


def pinned(cpu, command):
    return (["taskset", "-c", cpu] if shutil.which("taskset") else []) + command


def micros(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def wrk(url, connections):
    out = subprocess.run(
        pinned(WRK_CPU, ["wrk", "-t1", f"-c{connections}", f"-d{DURATION}s", "--latency", url]),
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mean = micros(re.search(r"Latency\s+(\S+)", out).group(1))
    p50 = micros(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = micros(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "mean": mean, "p50": p50, "p99": p99, "total": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else None}


def cpu_seconds(pid):
    """The process's user + system CPU time so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def facade_ns(bench):
    path = os.path.join(ROOT, "target/criterion/handle_request", bench, "new/estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except OSError:
        return None


def summary_cells(results, connections):
    """A table's cells for one connection count over the rounds: requests per second (median,
    and the best round at more than one connection), latency p50 / p99 and server CPU per
    request (medians)."""
    rps = statistics.median(r["rps"] for r in results)
    best = max(r["rps"] for r in results)
    p50 = statistics.median(r["p50"] for r in results)
    p99 = statistics.median(r["p99"] for r in results)
    cpu = statistics.median(r["cpu_us"] for r in results)
    return [f"{rps:,.0f}" if connections == 1 else f"{rps:,.0f} ({best:,.0f})",
            f"{p50:.0f} / {p99:.0f} µs", f"{cpu:.1f} µs"]


def main():
    host, port = LISTEN.rsplit(":", 1)
    if not os.path.exists(SERVER):
        sys.exit(f"{SERVER} is missing: cargo build --release --manifest-path apps/server/Cargo.toml")
    server = subprocess.Popen(
        pinned(SERVER_CPU, [SERVER, "--config", CONFIG, "--listen", LISTEN]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection((host, int(port)), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the server did not start listening")
        runs = {}
        for round_ in range(ROUNDS):
            for name, target, _, status in ENDPOINTS:
                for connections in CONNECTIONS:
                    cpu_before = cpu_seconds(server.pid)
                    result = wrk(f"http://{LISTEN}{target}", connections)
                    result["cpu_us"] = (cpu_seconds(server.pid) - cpu_before) / result["total"] * 1e6
                    expected_non2xx = result["total"] if status == 400 else 0
                    # wrk counts requests cut off at the end apart; allow a few.
                    if abs(result["non2xx"] - expected_non2xx) > connections or result["errors"]:
                        sys.exit(f"{name}: unexpected responses {result}")
                    runs.setdefault((name, connections), []).append(result)
                    print(f"round {round_ + 1} {name} c={connections}: {result['rps']:.0f} req/s, "
                          f"mean {result['mean']:.0f} us, p50 {result['p50']:.0f} us, "
                          f"p99 {result['p99']:.0f} us, server CPU {result['cpu_us']:.1f} us/request", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()

    print("| endpoint | facade (criterion median) | c=1: req/s | c=1: latency p50 / p99 | c=1: server CPU per request | c=16: req/s, median (best round) | c=16: latency p50 / p99 | c=16: server CPU per request | library share of the server's CPU per request (c=16) | facade / c=1 p50 latency |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, _, bench, _ in ENDPOINTS:
        ns = facade_ns(bench)
        row = [name, f"{ns / 1000:.2f} µs" if ns else "-"]
        for connections in CONNECTIONS:
            results = runs[(name, connections)]
            p50 = statistics.median(r["p50"] for r in results)
            cpu = statistics.median(r["cpu_us"] for r in results)
            row += summary_cells(results, connections)
            if connections == 1:
                c1_p50 = p50
        row.append(f"{ns / 1000 / cpu:.0%}" if ns else "-")
        row.append(f"{ns / 1000 / c1_p50:.1%}" if ns else "-")
        print("| " + " | ".join(row) + " |")

if __name__ == "__main__":
    main()
