#!/usr/bin/env python3
"""Write latency of one board while another, big board is rebuilt inside the same server.

Seeds BIG with N players (hash-8, untrimmed) through POST /scores/batch, then measures POST /scores
to a small board from 4 client threads: first for SECONDS without a rebuild, then while the big
board is rebuilt from PostgreSQL (its shards' Redis keys are deleted, as if every node had come
back empty; the server's recovery rebuilds it). Prints p50/p99 of both phases and their ratio,
for each of ROUNDS rounds (quiet, then rebuild), and the median ratio.

    Benchmarks/rebuild-isolation.py URL REDIS_DB [players, default 1000000] [seconds, default 10] [rounds, default 3]

Run by Benchmarks/rebuild-isolation.sh, which starts a server of its own.
"""
import json, subprocess, sys, threading, time, urllib.request, uuid

url, redis_db = sys.argv[1], sys.argv[2]
players = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
ports = [6379, 6380, 6381, 6382]
run = uuid.uuid4().hex[:8]
# The big board is named by its size, so a kept database (KEEP=1) reuses it without seeding again.
big, small = f"iso-big-{players}", f"iso-small-{run}"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


status, body = call("GET", f"/api/v1/leaderboards/{big}/top?limit=1")
seeded = status == 200 and json.loads(body).get("total") == players
if not seeded:
    call("DELETE", f"/api/v1/leaderboards/{big}")
    assert call("POST", "/api/v1/leaderboards", {"id": big, "max_entries": 0, "layout": {"strategy": "hash", "shards": 8}})[0] == 201
assert call("POST", "/api/v1/leaderboards", {"id": small, "update_mode": "increment", "layout": {"strategy": "hash", "shards": 4}})[0] == 201
started = time.time()
for start in range(0, 0 if seeded else players, 1000):
    batch = [{"player_id": f"m{i}", "score": (i * 7919) % 200_000, "game_id": big} for i in range(start, min(start + 1000, players))]
    status, _ = call("POST", "/api/v1/scores/batch", {"scores": batch})
    assert status == 200, status
print(f"seeded {players} players in {time.time() - started:.1f} s" if not seeded else f"reused {big} ({players} players)", flush=True)


def writers(until):
    latencies, lock = [], threading.Lock()

    def loop(writer):
        count = 0
        while not until() and count < 100_000:
            began = time.perf_counter()
            status, _ = call("POST", "/api/v1/scores", {"player_id": f"w{writer}-{count % 50}", "score": 1, "game_id": small})
            took = time.perf_counter() - began
            assert status == 200, status
            with lock:
                latencies.append((began, took))
            count += 1

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000


def measure_round():
    """One quiet phase, then one rebuild phase; returns the p99 of each (ms)."""
    quiet_end = time.time() + seconds
    quiet = sorted(took for _, took in writers(lambda: time.time() > quiet_end))

    # The big board lost from every node (UNLINK: as a node that comes back empty, without the
    # benchmark itself holding the nodes while they free the sets); the server's recovery notices
    # and rebuilds it; the phase lasts until the board answers with every player again.
    for port in ports:
        keys = [f"leaderboard:{big}:realtime:{shard}" for shard in range(8)] + [f"leaderboard:{big}:meta:{shard}" for shard in range(8)]
        subprocess.run(["redis-cli", "-p", str(port), "-n", redis_db, "UNLINK", *keys], check=True, capture_output=True)
    done = threading.Event()
    lost = time.time()

    def watch():
        while not done.is_set():
            status, body = call("GET", f"/api/v1/leaderboards/{big}/top?limit=1")
            if status == 200 and json.loads(body).get("total") == players and time.time() - lost > 0.5:
                done.set()
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    timed = writers(lambda: done.is_set() or time.time() - lost > 300)
    done.set()
    busy = sorted(took for _, took in timed)
    watcher.join()
    print(f"board lost and rebuilt in {time.time() - lost:.1f} s")
    print(f"  without rebuild: {len(quiet)} writes, p50 {pct(quiet, 50):.1f} ms, p99 {pct(quiet, 99):.1f} ms")
    print(f"  during rebuild:  {len(busy)} writes, p50 {pct(busy, 50):.1f} ms, p99 {pct(busy, 99):.1f} ms")
    # Where the slow writes fall: p99 per 2 s of the rebuild phase.
    first = min(began for began, _ in timed)
    windows = {}
    for began, took in timed:
        windows.setdefault(int((began - first) // 2), []).append(took)
    print("  p99 per 2 s:", " ".join(f"{pct(sorted(v), 99):.0f}" for _, v in sorted(windows.items())), "ms")
    print(f"  p99 ratio {pct(busy, 99) / pct(quiet, 99):.2f}", flush=True)
    return pct(quiet, 99), pct(busy, 99)


results = [measure_round() for _ in range(rounds)]
ratios = sorted(busy / quiet for quiet, busy in results)
print(f"p99 ratio per round: {' '.join(f'{r:.2f}' for r in ratios)}; median {ratios[len(ratios) // 2]:.2f} (target <= 2)")
