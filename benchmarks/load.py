"""Load test of the mock server: what honouring ``responseFields`` costs, as a ratio in one run.

``python -m benchmarks.load`` serves ``projection.mock`` with uvicorn on 127.0.0.1 only, sends
20,000 requests with ``responseFields`` and as many with it renamed from 8 keep-alive clients in
alternating rounds, prints throughput (median, spread) and the ratio; a hard time limit stops it.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

import orjson

from projection.mock import running

# The only address this test ever sends to.
HOST: Final = "127.0.0.1"
PATH: Final = "/commerce/customer/authtickets/anonymousshopper"
EXPRESSION: Final = "customerAccount(contacts(address)),accessToken"
HEADERS: Final = {"Authorization": "Bearer load-test"}
WARM_UP: Final = 400  # requests of each kind, not counted


def _projected(body: bytes) -> bool:
    return list(orjson.loads(body)) == ["customerAccount", "accessToken"]


def _whole(body: bytes) -> bool:
    return orjson.loads(body)["customerAccount"]["isAnonymous"] is True


@dataclass(frozen=True)
class Kind:
    """One kind of request: where it goes and how a right answer looks."""

    label: str
    target: str
    check: Callable[[bytes], bool]


# The baseline is the same server, app and fresh tickets, asked with the same request line but the
# parameter renamed (``ignoredFields``): the middleware reads the query, finds no expression and
# passes the response through unbuffered. So the ratio isolates what projecting costs (cached
# parse, buffering, projection) and saves (a tenth of the bytes to send). Without any query the
# baseline would also gain a shorter request line to write and parse, which is not the
# projection's cost; a second server would add a process's noise, a bypass switch an API.
KINDS: Final = (
    Kind("projected", f"{PATH}?{urlencode({'responseFields': EXPRESSION})}", _projected),
    Kind("baseline", f"{PATH}?{urlencode({'ignoredFields': EXPRESSION})}", _whole),
)


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0
    received: int = 0
    first_error: str | None = None

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.received += other.received
        self.first_error = self.first_error or other.first_error


class OutOfTimeError(Exception):
    """The hard time limit passed before the run finished."""


def _client(port: int, kind: Kind, count: int, deadline: float, start: threading.Barrier) -> Tally:
    tally = Tally()
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.connect()  # before the start, so that connecting is not timed
    except OSError as error:
        tally.errors += 1
        tally.first_error = f"{kind.label}: {error!r}"
    start.wait()
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            tally.requests += 1
            try:
                connection.request("GET", kind.target, headers=HEADERS)
                response = connection.getresponse()
                body = response.read()
                tally.received += len(body)
                if response.status != 200 or not kind.check(body):
                    raise ValueError(f"status {response.status}: {body[:200]!r}")
            except (OSError, ValueError, http.client.HTTPException) as error:
                tally.errors += 1
                tally.first_error = tally.first_error or f"{kind.label}: {error!r}"
                connection.close()  # the next request opens a new connection
    finally:
        connection.close()
    return tally


def _round(
    port: int, kind: Kind, requests: int, clients: int, deadline: float
) -> tuple[float, Tally]:
    """Seconds taken by ``requests`` requests of ``kind`` shared by ``clients`` threads."""
    start = threading.Barrier(clients + 1, timeout=30)
    tallies: list[Tally] = []
    shares = [requests // clients + (i < requests % clients) for i in range(clients)]

    def work(count: int) -> None:
        tallies.append(_client(port, kind, count, deadline, start))

    # Daemons: a client stuck past the time limit must not keep the process alive.
    threads = [threading.Thread(target=work, args=(count,), daemon=True) for count in shares]
    for thread in threads:
        thread.start()
    start.wait()  # every client connected: timing starts here
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0) + 15)
    elapsed = time.perf_counter() - began
    total = Tally()
    for tally in tallies:
        total.add(tally)
    if time.monotonic() > deadline or len(tallies) < clients:
        raise OutOfTimeError(f"the time limit passed during a {kind.label} round")
    return elapsed, total


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000, help="of each kind (20,000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each kind (10)")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds, hard (180)")
    arguments = parser.parse_args()
    if min(arguments.requests, arguments.clients, arguments.rounds, arguments.time_limit) <= 0:
        parser.error("every option must be positive")
    per_round = arguments.requests // arguments.rounds
    deadline = time.monotonic() + arguments.time_limit
    rates: dict[str, list[float]] = {kind.label: [] for kind in KINDS}
    totals = {kind.label: Tally() for kind in KINDS}
    try:
        with running(host=HOST) as server:
            port = server.port
            for kind in KINDS:
                # Counted for errors, not for speed: the first requests compile the projection.
                totals[kind.label].add(_round(port, kind, WARM_UP, arguments.clients, deadline)[1])
            for number in range(arguments.rounds):
                # Alternate which kind goes first, so drift in the machine hits both alike.
                for kind in KINDS if number % 2 == 0 else KINDS[::-1]:
                    seconds, tally = _round(port, kind, per_round, arguments.clients, deadline)
                    rates[kind.label].append(tally.requests / seconds)
                    totals[kind.label].add(tally)
    except OutOfTimeError as error:
        print(f"load: stopped: {error}", file=sys.stderr)
        return 1
    errors = sum(total.errors for total in totals.values())
    print(
        f"load: {arguments.clients} clients, {arguments.rounds} alternating rounds of "
        f"{per_round} requests of each kind after {WARM_UP} to warm up, uvicorn on {HOST}"
    )
    for kind in KINDS:
        total, kind_rates = totals[kind.label], rates[kind.label]
        print(
            f"  {kind.label:<9} {total.requests:>6} requests, {total.errors} errors, "
            f"{total.received / max(total.requests, 1):>6.0f} B/response: median "
            f"{statistics.median(kind_rates):>6.0f} req/s (min {min(kind_rates):.0f}, "
            f"max {max(kind_rates):.0f})"
        )
    ratio = statistics.median(rates["projected"]) / statistics.median(rates["baseline"])
    print(f"  projected/baseline throughput: {ratio:.3f}   ({EXPRESSION})")
    for total in totals.values():
        if total.first_error:
            print(f"load: first error: {total.first_error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
