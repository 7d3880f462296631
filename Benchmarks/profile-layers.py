#!/usr/bin/env python3
"""Reads `perf script -F ip,sym,dso` of a `perf record -g` profile on stdin and prints the share
of the samples per layer of the server (Benchmarks/cost.sh), then the hottest leaf symbols.

Each sample is charged to the first frame, from the leaf up, that belongs to a layer of the
program: a retain, a malloc or a memmove is paid for by the code that called it (JSON encoding,
the Redis client, NIO…). Kernel samples stay the kernel's (syscalls, sockets, scheduling); what
has no program frame at all (executor threads, the runtime on its own) is "runtime, unattributed".
"""
import re
import sys
from collections import Counter

# First match wins, so JSON code counts as JSON whichever module it is in, and the project's
# modules win over the frameworks they specialize.
LAYERS = [
    ("JSON (encoding answers, parsing bodies)", re.compile(r"JSONWriter|JSONEncoder|JSONAnswer|JSONIO|JSONParser|JSONValue|JSONDecoder")),
    ("our HTTP layer and middleware", re.compile(r"LeaderboardHTTP|LeaderboardApp")),
    ("service", re.compile(r"LeaderboardService")),
    ("store (Redis/PostgreSQL logic)", re.compile(r"LeaderboardStore")),
    ("core (pure logic)", re.compile(r"LeaderboardCore")),
    ("Redis client and hiredis", re.compile(r"RedisClient|hiredis|redisReader|redisBuffer")),
    ("PostgreSQL client and libpq", re.compile(r"PostgresClient|BlockingPool|libpq")),
    ("metrics and logging", re.compile(r"Metrics|Prometheus|Logging")),
    ("Hummingbird, NIO and HTTP types", re.compile(r"Hummingbird|NIO|HTTPTypes|ServiceLifecycle")),
    ("Foundation", re.compile(r"Foundation")),
]
KERNEL = "kernel (syscalls, sockets, scheduling)"
UNATTRIBUTED = "runtime and libc, unattributed (executors, threads)"

frame_pattern = re.compile(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def layer_of(symbol, dso):
    for name, pattern in LAYERS:
        if pattern.search(symbol):
            return name
    return None


layers = Counter()
leaves = Counter()
samples = 0


def charge(frames):
    global samples
    if not frames:
        return
    samples += 1
    leaf_symbol, leaf_dso = frames[0]
    leaves[leaf_symbol] += 1
    if "kernel" in leaf_dso:
        layers[KERNEL] += 1
        return
    for symbol, dso in frames:
        layer = layer_of(symbol, dso)
        if layer:
            layers[layer] += 1
            return
    layers[UNATTRIBUTED] += 1


frames = []
for line in sys.stdin:
    match = frame_pattern.match(line)
    if match:
        frames.append((match.group(1), match.group(2)))
    elif not line.strip():
        charge(frames)
        frames = []
charge(frames)

if not samples:
    print("(no samples)")
    sys.exit(0)
print(f"{samples} samples")
for name, count in layers.most_common():
    print(f"{100 * count / samples:5.1f}%  {name}")
print("  hottest leaves:")
for symbol, count in leaves.most_common(6):
    print(f"  {100 * count / samples:5.1f}%  {symbol[:110]}")
