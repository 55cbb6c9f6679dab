"""Anonymous load without cookies (as a shared cache sees it): the event page or its seat-map poll, through
nginx or straight to an app server, at N keep-alive connections. Says how many answers came from nginx's
micro-cache (X-Cache: HIT), how many set a cookie (none should: boxoffice/http_cache.py), the bytes on the
wire and the machine's load average before and after (2 shared cores: it says how far to trust a run).

    .venv/bin/python -m bench.anonymous --url http://127.0.0.1:8800 --event 13 --kind poll --seconds 10
"""
from __future__ import annotations

import argparse
import http.client
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request

from bench.storefront import load_average


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8800")
    parser.add_argument("--event", type=int, required=True)
    parser.add_argument("--kind", choices=("page", "poll"), default="page")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    address = urllib.parse.urlsplit(args.url)
    page = urllib.request.urlopen(f"{args.url}/events/{args.event}").read().decode()
    version = re.search(r'name="v" value="([^"]*)"', page).group(1)
    as_of = re.search(r'name="t" value="([^"]*)"', page).group(1)
    path = (f"/events/{args.event}/seats/changes?v={version}&t={urllib.parse.quote(as_of)}" if args.kind == "poll"
            else f"/events/{args.event}")
    headers = {"Accept-Encoding": "gzip", **({"HX-Request": "true"} if args.kind == "poll" else {})}
    times: list[float] = []
    statuses: dict[int, int] = {}
    hits, wire, cookies = [0], [0], [0]
    stop = time.monotonic() + args.seconds

    def client() -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            times.append(time.perf_counter() - started)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            hits[0] += answer.getheader("X-Cache") == "HIT"
            cookies[0] += answer.getheader("Set-Cookie") is not None
            wire[0] = len(body)
            if (answer.getheader("Connection") or "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    load_before = load_average()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(times, n=100)
    print(f"GET {path} x{args.clients} via {args.url}: n={len(times)} in {elapsed:.1f} s = {len(times) / elapsed:.0f} "
          f"req/s | p50 {cuts[49] * 1000:.1f} ms p99 {cuts[98] * 1000:.1f} ms | statuses {statuses} | "
          f"micro-cache hits {hits[0]} | set a cookie {cookies[0]} | {wire[0]} bytes on the wire | "
          f"load {load_before} -> {load_average()}")


if __name__ == "__main__":
    main()
