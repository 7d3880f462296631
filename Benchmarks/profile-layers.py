#!/usr/bin/env python3
"""Reads `perf report --no-children --sort dso,symbol --stdio -g none` on stdin and prints the
share of the samples per layer of the server (Benchmarks/cost.sh), then the top symbols.

A symbol belongs to the first layer whose pattern it matches, so the project's own modules win
over the frameworks they specialize (a generic NIO function specialized in LeaderboardStore
counts as the store's)."""
import re
import sys
from collections import defaultdict

LAYERS = [
    ("our HTTP layer and middleware", re.compile(r"LeaderboardHTTP|Middleware")),
    ("service", re.compile(r"LeaderboardService")),
    ("store (Redis/PostgreSQL logic)", re.compile(r"LeaderboardStore")),
    ("core (pure logic, JSON parser)", re.compile(r"LeaderboardCore")),
    ("Redis client and hiredis", re.compile(r"RedisClient|hiredis|redisReader|redisBuffer|sds")),
    ("PostgreSQL client and libpq", re.compile(r"PostgresClient|libpq|PQ[a-z]")),
    ("metrics and logging", re.compile(r"Metrics|Prometheus|Logging|Tracing|OTel")),
    ("JSON (Foundation coders)", re.compile(r"JSON|Encoder|Decoder|Codable|Encodable")),
    ("Hummingbird and NIO", re.compile(r"Hummingbird|NIO|HTTPTypes|ServiceLifecycle")),
    ("Swift runtime (retain/release, allocation, generics)", re.compile(r"^swift_|libswiftCore|\$ss|_swift|swift::")),
    ("Foundation", re.compile(r"Foundation")),
    ("malloc and libc", re.compile(r"libc\.so|malloc|free|memcpy|memmove|memset|pthread|jemalloc")),
    ("kernel (syscalls, sockets, scheduling)", re.compile(r"\[kernel|\[k\]")),
]

line_pattern = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+(\[[.k]\])\s+(.*)$")
shares = defaultdict(float)
symbols = []
for line in sys.stdin:
    match = line_pattern.match(line)
    if not match:
        continue
    percent, dso, kind, symbol = float(match.group(1)), match.group(2), match.group(3), match.group(4).strip()
    text = f"{dso} {kind} {symbol}"
    layer = next((name for name, pattern in LAYERS if pattern.search(text)), "other")
    shares[layer] += percent
    symbols.append((percent, layer, symbol))

if not symbols:
    print("(no samples)")
    sys.exit(0)
for name, share in sorted(shares.items(), key=lambda item: -item[1]):
    print(f"{share:5.1f}%  {name}")
print("  top symbols:")
for percent, layer, symbol in sorted(symbols, reverse=True)[:8]:
    print(f"  {percent:5.1f}%  {symbol[:110]}")
