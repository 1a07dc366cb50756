#!/usr/bin/env python3
"""Load on the example server with the master in memory and in SoftHSMv2 (issue #15), same run.

For ROUNDS rounds (default 3), starts the release server (apps/server, built first) with
each of two configurations in turn, pinned to core SERVER_CPU, on LISTEN (default
127.0.0.1:18082): MEMORY_CONFIG (the master's bytes in the file) and HSM_CONFIG (the same
master bytes in a SoftHSMv2 token: {"pkcs11": {...}}); for each, runs wrk exactly as
benches/load.py does (pinned to core WRK_CPU, DURATION seconds, 1 and 16 connections) against
`authenticationresponse?...&diversified=True` and `diversifiedkey`, checks every answer was a
200, reads the server's CPU time per request from /proc, and stops the server by its PID.
Prints the medians of the rounds as a Markdown table.

The two configurations are written by `.ci/run hsm` style set-up; see benches/README.md,
section "Master in SoftHSMv2", for the commands that make the token and the files.
Environment: MEMORY_CONFIG, HSM_CONFIG (required), LISTEN, DURATION, ROUNDS, SERVER_CPU,
WRK_CPU; SOFTHSM2_CONF and the PIN variable the HSM configuration names are passed through.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (benches/load.py: wrk, pinning, CPU time)

LISTEN = os.environ.get("LISTEN", "127.0.0.1:18082")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONFIGS = [("in memory", os.environ["MEMORY_CONFIG"]), ("SoftHSMv2", os.environ["HSM_CONFIG"])]
# The workspace builds into target/ at the root (load.py still names the old per-project path).
load.SERVER = os.environ.get("SERVER", os.path.join(load.ROOT, "target/release/cardadmin-server"))
ENDPOINTS = [e for e in load.ENDPOINTS if e[2] in ("authenticationresponse_diversified", "diversifiedkey")]


def start(config):
    host, port = LISTEN.rsplit(":", 1)
    server = subprocess.Popen(
        load.pinned(load.SERVER_CPU, [load.SERVER, "--config", config, "--listen", LISTEN]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        if server.poll() is not None:
            sys.exit(f"the server stopped: {server.stderr.read().decode()}")
        try:
            socket.create_connection((host, int(port)), timeout=0.1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    sys.exit("the server did not start listening")


def main():
    if not os.path.exists(load.SERVER):
        sys.exit(f"{load.SERVER} is missing: cargo build --release -p cardadmin-server")
    runs = {}
    for round_ in range(ROUNDS):
        for store, config in CONFIGS:
            server = start(config)
            try:
                for name, target, _, _ in ENDPOINTS:
                    for connections in load.CONNECTIONS:
                        before = load.cpu_seconds(server.pid)
                        result = load.wrk(f"http://{LISTEN}{target}", connections)
                        result["cpu_us"] = (load.cpu_seconds(server.pid) - before) / result["total"] * 1e6
                        if result["non2xx"] > connections or result["errors"]:
                            sys.exit(f"{store} {name}: unexpected responses {result}")
                        runs.setdefault((store, name, connections), []).append(result)
                        print(f"round {round_ + 1} {store} {name} c={connections}: {result['rps']:.0f} req/s, "
                              f"p50 {result['p50']:.0f} us, p99 {result['p99']:.0f} us, "
                              f"server CPU {result['cpu_us']:.1f} us/request", file=sys.stderr)
            finally:
                server.terminate()
                server.wait()

    print("| endpoint | master | c=1: req/s | c=1: latency p50 / p99 | c=1: server CPU per request | c=16: req/s, median (best round) | c=16: latency p50 / p99 | c=16: server CPU per request |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _, _ in ENDPOINTS:
        for store, _ in CONFIGS:
            row = [name, store]
            for connections in load.CONNECTIONS:
                row += load.summary_cells(runs[(store, name, connections)], connections)
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
