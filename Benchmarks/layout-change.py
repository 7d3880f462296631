#!/usr/bin/env python3
"""Online layout changes of a big board under load: migration time, members copied per second,
read and write latency before, during and after, 503s, and no acknowledged write lost.

Seeds BOARD (hash-4, untrimmed) with N players through POST /scores/batch (or reuses it), finds
the client's capacity with a closed loop of reads and writes, then runs paced load at half of it
(reads: player rank and top 10; writes: POST /scores of players each thread owns) and, during it,
changes the layout three times: hash 4 -> hash 8, hash 8 -> the planner's 8 bands, and back to hash 4. Each phase
(before, during, after) is reported; "during" runs from the PUT until GET .../layout says stable.

    Benchmarks/layout-change.py URL [players, default 1000000] [seconds before/after, default 8]

Run by Benchmarks/layout-change.sh, which starts a server of its own.
"""
import json, sys, threading, time, urllib.request

url = sys.argv[1]
players = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
quiet = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
board = f"relayout-{players}"
threads = 8


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def layout():
    return json.loads(call("GET", f"/api/v1/leaderboards/{board}/layout")[1])


status, body = call("GET", f"/api/v1/leaderboards/{board}/top?limit=1")
seeded = status == 200 and json.loads(body).get("total") == players
if seeded and layout()["layout"] != {"strategy": "hash", "shards": 4}:
    seeded = False
if not seeded:
    call("DELETE", f"/api/v1/leaderboards/{board}")
    assert call("POST", "/api/v1/leaderboards", {"id": board, "max_entries": 0, "layout": {"strategy": "hash", "shards": 4}})[0] == 201
    started = time.time()
    for start in range(0, players, 1000):
        batch = [{"player_id": f"m{i}", "score": (i * 7919) % 200_000, "game_id": board} for i in range(start, min(start + 1000, players))]
        assert call("POST", "/api/v1/scores/batch", {"scores": batch})[0] == 200
    print(f"seeded {players} players in {time.time() - started:.1f} s", flush=True)
else:
    print(f"reused {board} ({players} players)", flush=True)

lock = threading.Lock()
samples = []  # (began, kind, seconds, status)
acknowledged = {}  # player -> last acknowledged score
stop = threading.Event()


def worker(index, interval):
    """Alternates a read and a write; `interval` (s) paces it (0: a closed loop)."""
    count, nxt = 0, time.perf_counter()
    while not stop.is_set() and count < 2_000_000:
        count += 1
        if count % 2:
            player = f"m{(count * 7919 + index) % players}"
            path = f"/api/v1/leaderboards/{board}/player/{player}" if count % 4 == 1 else f"/api/v1/leaderboards/{board}/top?limit=10"
            began = time.perf_counter()
            status, _ = call("GET", path)
            kind = "read"
        else:
            player = f"w{index}-{count % 500}"
            score = count % 200_000
            began = time.perf_counter()
            status, _ = call("POST", "/api/v1/scores", {"player_id": player, "score": score, "game_id": board})
            kind = "write"
            if status == 200:
                with lock:
                    acknowledged[player] = score
        took = time.perf_counter() - began
        with lock:
            samples.append((began, kind, took, status))
        if interval:
            nxt += interval
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.perf_counter()


def run(interval, until):
    stop.clear()
    pool = [threading.Thread(target=worker, args=(i, interval)) for i in range(threads)]
    for thread in pool:
        thread.start()
    until()
    stop.set()
    for thread in pool:
        thread.join()


# The client's capacity against this server: a closed loop for 5 s.
run(0, lambda: time.sleep(5))
with lock:
    capacity = len(samples) / 5
    samples.clear()
rate = capacity / 2
print(f"capacity (closed loop, {threads} threads): {capacity:.0f} req/s; load at half: {rate:.0f} req/s", flush=True)

phases = []  # (name, start, end)
migrations = []


def scenario():
    begin = time.perf_counter()
    time.sleep(quiet)
    phases.append(("before", begin, time.perf_counter()))
    # (The last change takes the board back to hash 4, so KEEP=1 reuses it without seeding again.)
    for name, target in [("hash 4 -> hash 8", {"strategy": "hash", "shards": 8}), ("hash 8 -> planned band 8", None), ("band 8 -> hash 4", {"strategy": "hash", "shards": 4})]:
        if target is None:
            plan = json.loads(call("GET", f"/api/v1/leaderboards/{board}/layout/plan?strategy=band&shards=8")[1])
            target = plan["layout"]
            print(f"  planner: bounds {plan['bounds']}, members {plan['members']}, imbalance {plan['imbalance']}", flush=True)
        put = time.perf_counter()
        status, body = call("PUT", f"/api/v1/leaderboards/{board}/layout", {"layout": target})
        assert status == 202, (status, body)
        epoch = json.loads(body)["epoch"]
        copied_first = copied_full = None
        total = 0
        while True:
            state = layout()
            now = time.perf_counter()
            migration = state.get("migration")
            if migration:
                total = migration["total"]
                if migration["copied"] > 0 and copied_first is None:
                    copied_first = now
                if total and migration["copied"] >= total and copied_full is None:
                    copied_full = now
            if state["epoch"] == epoch and state["state"] == "stable":
                break
            if now - put > 600:
                raise SystemExit("the change never switched")
            time.sleep(0.05)
        done = time.perf_counter()
        phases.append((f"during {name}", put, done))
        migrations.append((name, done - put, total, (copied_full or done) - put))
        time.sleep(quiet)
        phases.append((f"after {name}", done, time.perf_counter()))


run(threads / rate, scenario)


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000 if values else float("nan")


print(f"{'phase':<36} {'reads':>7} {'p50 ms':>7} {'p99 ms':>7} {'writes':>7} {'p50 ms':>7} {'p99 ms':>7} {'503s':>5} {'other':>5}")
for name, start, end in phases:
    inside = [s for s in samples if start <= s[0] < end]
    reads = sorted(s[2] for s in inside if s[1] == "read" and s[3] == 200)
    writes = sorted(s[2] for s in inside if s[1] == "write" and s[3] == 200)
    unavailable = sum(1 for s in inside if s[3] == 503)
    other = sum(1 for s in inside if s[3] not in (200, 503))
    print(f"{name:<36} {len(reads):>7} {pct(reads, 50):>7.1f} {pct(reads, 99):>7.1f} {len(writes):>7} {pct(writes, 50):>7.1f} {pct(writes, 99):>7.1f} {unavailable:>5} {other:>5}")
for name, took, total, copy in migrations:
    print(f"migration {name}: {took:.2f} s from PUT to switched; {total} members copied in {copy:.2f} s ({total / copy / 1000:.0f}k members/s)")

# No acknowledged write lost: every writer's players read back with their last acknowledged score.
lost = 0
for player, score in sorted(acknowledged.items()):
    status, body = call("GET", f"/api/v1/leaderboards/{board}/player/{player}")
    if status != 200 or json.loads(body)["score"] != score:
        lost += 1
print(f"acknowledged writes checked: {len(acknowledged)} players, {lost} lost")
