"""What the public rate limit costs a request, against baselines measured in the same run.

    .venv/bin/python benchmarks/ratelimit.py [--calls 20000]

For ``PublicRateLimit._hit`` (one count and the verdict; what every public POST pays) with the counts
in memory (one process) and in Redis at 127.0.0.1:6379 (``LICENSING_REDIS_URL``, shared by every
worker), and the baseline of one bare Redis ``PING`` round trip with the same client library: the
least any shared counter costs. Addresses cycle through 1,000 so windows are reused as in service.
Prints microseconds per call (median of 5 rounds) and the ratio Redis limit / PING (the limit is one
pipelined INCR + EXPIRE: target below 2). A benchmark, not a test: it never fails on its figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from api.ratelimit import PublicRateLimit, rate_limit_storage

REDIS_URL = "redis://127.0.0.1:6379/0"


def per_call_us(func: Callable[[int], object], calls: int, rounds: int = 5) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for n in range(calls):
            func(n)
        timings.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    addresses = [f"10.0.{n // 256}.{n % 256}" for n in range(1000)]
    prefix = f"licensing-bench:{uuid.uuid4().hex}"
    memory = PublicRateLimit(10**9, rate_limit_storage(None))
    shared = PublicRateLimit(10**9, rate_limit_storage(REDIS_URL, key_prefix=prefix))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        figures = {
            "limit, counts in memory": per_call_us(lambda n: memory._hit(addresses[n % 1000]), args.calls),
            "limit, counts in Redis": per_call_us(lambda n: shared._hit(addresses[n % 1000]), args.calls),
            "baseline: Redis PING": per_call_us(lambda n: client.ping(), args.calls),
        }
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    print(f"{'':28}{'µs per call (median)':>22}")
    for name, value in figures.items():
        print(f"{name:28}{value:>22.1f}")
    ratio = figures["limit, counts in Redis"] / figures["baseline: Redis PING"]
    print(f"\nratio Redis limit / PING: {ratio:.2f}  (target < 2)")


if __name__ == "__main__":
    main()
