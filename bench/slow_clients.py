"""Well-behaved clients' latency with and without 200 idle and 32 slowloris connections
open against one glance-api (issue 15's row: p99 with them within 1.2x of p99 without).

    .venv/bin/python bench/slow_clients.py            # Glint's worker
    PYTHONPATH=<tree with another server.py>/service .venv/bin/python bench/slow_clients.py

glance-api runs as the service tests run it (tests/service/server.py: SQLite, file
store, 2 workers, defaults otherwise). Phases alternate quiet / attacked ROUNDS times,
PHASE seconds each; during an attacked phase the bad clients reconnect whenever the
server closes them (as an attacker would), a slowloris client sending a header line
every 4 s. CLIENTS threads send requests back to back: a listing on a kept-alive
session, then a show on a fresh connection (so accepting a connection is measured too).
Prints one line per phase kind: requests, errors, p50, p99, max (ms).
"""
from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.service.server import GlintServer  # noqa: E402

CLIENTS = int(os.environ.get('SLOW_BENCH_CLIENTS', 4))
PHASE = float(os.environ.get('SLOW_BENCH_PHASE', 15))
ROUNDS = int(os.environ.get('SLOW_BENCH_ROUNDS', 3))
IDLE, SLOWLORIS, DRIP = 200, 32, 4.0


def attacker(port: int, slow: bool, stop: threading.Event) -> None:
    """One bad connection at a time, for as long as the phase lasts."""
    while not stop.is_set():
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=60) as sock:
                if not slow:
                    sock.recv(1)        # until the server closes it
                    continue
                sock.sendall(b'GET /v2/images HTTP/1.1\r\nHost: glint\r\n')
                while not stop.wait(DRIP):
                    sock.sendall(b'X-Slow: 1\r\n')
        except OSError:
            stop.wait(0.1)


def client(url: str, image_id: str, stop: threading.Event, out: list, errors: list):
    session = requests.Session()
    while not stop.is_set():
        for fresh in (False, True):
            start = time.monotonic()
            try:
                if fresh:
                    resp = requests.get(url + '/v2/images/' + image_id, timeout=60,
                                        headers={'Connection': 'close'})
                else:
                    resp = session.get(url + '/v2/images?limit=5', timeout=60)
                ok = resp.status_code == 200
            except requests.RequestException:
                ok = False
            (out if ok else errors).append(time.monotonic() - start)


def phase(srv: GlintServer, image_id: str, attacked: bool) -> tuple[list, list]:
    stop = threading.Event()
    bad = []
    if attacked:
        bad = [threading.Thread(target=attacker, args=(srv.port, i >= IDLE, stop))
               for i in range(IDLE + SLOWLORIS)]
        for t in bad:
            t.start()
        time.sleep(1)       # all connected before measuring
    out, errors = [], []
    clients = [threading.Thread(target=client, args=(srv.url, image_id, stop, out, errors))
               for _ in range(CLIENTS)]
    for t in clients:
        t.start()
    time.sleep(PHASE)
    stop.set()
    for t in clients + bad:
        t.join()
    return out, errors


def summary(name: str, times: list, errors: list) -> str:
    qs = statistics.quantiles(times, n=100)
    return ('%-9s requests %6d  errors %3d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms'
            % (name, len(times), len(errors), qs[49] * 1e3, qs[98] * 1e3, max(times) * 1e3))


def main() -> None:
    with GlintServer() as srv:
        resp = requests.post(srv.url + '/v2/images', timeout=60,
                             json={'disk_format': 'raw', 'container_format': 'bare'})
        image_id = resp.json()['id']
        results = {False: ([], []), True: ([], [])}
        for _ in range(ROUNDS):
            for attacked in (False, True):
                out, errors = phase(srv, image_id, attacked)
                results[attacked][0].extend(out)
                results[attacked][1].extend(errors)
        quiet, attacked = results[False], results[True]
        print(summary('quiet', *quiet))
        print(summary('attacked', *attacked))
        ratio = statistics.quantiles(attacked[0], n=100)[98] / \
            statistics.quantiles(quiet[0], n=100)[98]
        print('p99 attacked / quiet: %.2f (target <= 1.2)' % ratio)
        print('load average: %.1f %.1f %.1f' % os.getloadavg())


if __name__ == '__main__':
    main()
