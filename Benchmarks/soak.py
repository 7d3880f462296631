#!/usr/bin/env python3
"""The soak's load and sampling (run by Benchmarks/soak.sh, which starts the server).

Seeds a hash-8 and a band-8 board (unless they already hold the players), measures the capacity
of the mixed workload with closed-loop clients for 20 s, then runs it open-loop at half that
rate for the given minutes. Every 30 s it samples the server's RSS and open files, PostgreSQL's
connections to the database, the Redis nodes' used memory, and p50/p99 of the interval's
requests; writes OUT.csv and OUT.svg and prints a summary.
"""
import argparse, http.client, json, multiprocessing, queue, random, statistics, subprocess, threading, time

parser = argparse.ArgumentParser()
for name in ["url", "pid", "redis-ports", "redis-db", "pg-socket", "database", "out"]:
    parser.add_argument("--" + name, required=True)
parser.add_argument("--minutes", type=float, default=30)
parser.add_argument("--players", type=int, default=1_000_000)
parser.add_argument("--threads", type=int, default=8, help="client threads per process")
parser.add_argument("--processes", type=int, default=1, help="client processes (one Python process is slower than the server)")
args = parser.parse_args()
host, port = args.url.split("//")[1].split(":")
port = int(port)
boards = {"soak-hash8": {"strategy": "hash", "shards": 8}, "soak-band8": None}
score_range = 400_000
band_bounds = [score_range // 8 * i for i in range(1, 8)]
boards["soak-band8"] = {"strategy": "band", "bounds": band_bounds}


class Client:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self):
        self.connection = None

    def call(self, method, path, body=None):
        for attempt in range(2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(host, port, timeout=30)
                data = None if body is None else json.dumps(body)
                self.connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
                answer = self.connection.getresponse()
                payload = answer.read()
                if answer.getheader("connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return answer.status, payload
            except (http.client.HTTPException, OSError):
                if self.connection is not None:
                    self.connection.close()
                self.connection = None
                if attempt == 1:
                    return 0, b""


def seed():
    client = Client()
    for board, layout in boards.items():
        status, body = client.call("GET", f"/api/v1/leaderboards/{board}/top?limit=1")
        if status == 200 and json.loads(body).get("total") == args.players:
            print(f"reusing {board}", flush=True)
            continue
        client.call("DELETE", f"/api/v1/leaderboards/{board}")
        status, body = client.call("POST", "/api/v1/leaderboards", {"id": board, "max_entries": 0, "layout": layout})
        assert status == 201, (status, body)
        started = time.time()
        for start in range(0, args.players, 1000):
            batch = [{"player_id": f"s{i}", "score": (i * 7919) % score_range, "game_id": board} for i in range(start, min(start + 1000, args.players))]
            status, _ = client.call("POST", "/api/v1/scores/batch", {"scores": batch})
            assert status == 200, status
        print(f"seeded {board} with {args.players} players in {time.time() - started:.0f} s", flush=True)


def request(rng):
    """One request of the mix: 70 % reads (rank, top 100, around ±5, a deep range), 30 % writes."""
    board = rng.choice(list(boards))
    player = f"s{rng.randrange(args.players)}"
    roll = rng.random()
    if roll < 0.25:
        return "GET", f"/api/v1/leaderboards/{board}/player/{player}", None
    if roll < 0.35:
        return "GET", f"/api/v1/leaderboards/{board}/top?limit=100", None
    if roll < 0.55:
        return "GET", f"/api/v1/leaderboards/{board}/around/{player}?range=5", None
    if roll < 0.70:
        start = rng.randrange(1, args.players - 50)
        return "GET", f"/api/v1/leaderboards/{board}/range?start={start}&end={start + 49}", None
    return "POST", "/api/v1/scores", {"player_id": player, "score": rng.randrange(score_range), "game_id": board}


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies, self.errors, self.count = [], 0, 0
        self.statuses = {}

    def add(self, took, ok, status=None):
        with self.lock:
            self.latencies.append(took)
            self.count += 1
            if not ok:
                self.errors += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def take(self):
        with self.lock:
            values, errors = self.latencies, self.errors
            self.latencies, self.errors = [], 0
        return sorted(values), errors


def worker(index, until, recorder, interval):
    rng = random.Random(index)
    client = Client()
    next_at = time.perf_counter()
    while time.time() < until:
        if interval:
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        method, path, body = request(rng)
        began = time.perf_counter()
        status, _ = client.call(method, path, body)
        recorder.add(time.perf_counter() - began, status in (200, 404), f"{method} {path.split('?')[0].rsplit('/', 1)[0]} {status}")


def client_process(index, seconds, rate, out):
    """One client process: its threads, and every second what they measured, sent to `out`."""
    recorder = Recorder()
    until = time.time() + seconds
    interval = None if rate is None else args.threads / rate
    threads = [threading.Thread(target=worker, args=(index * 1000 + i, until, recorder, interval), daemon=True) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        time.sleep(1)
        out.put(recorder.take())
    out.put(recorder.take())
    with recorder.lock:
        out.put(("statuses", recorder.statuses))


def run(seconds, rate=None):
    """Starts the client processes (each with its share of `rate`, closed loop when None); returns
    a recorder that collects their measurements and the processes."""
    recorder = Recorder()
    out = multiprocessing.Queue()
    share = None if rate is None else rate / args.processes
    processes = [multiprocessing.Process(target=client_process, args=(i, seconds, share, out), daemon=True) for i in range(args.processes)]
    for process in processes:
        process.start()

    def collect():
        while any(process.is_alive() for process in processes) or not out.empty():
            try:
                values, errors = out.get(timeout=0.5)
            except queue.Empty:
                continue
            if values == "statuses":
                with recorder.lock:
                    for key, count in errors.items():
                        recorder.statuses[key] = recorder.statuses.get(key, 0) + count
                continue
            with recorder.lock:
                recorder.latencies += values
                recorder.errors += errors
                recorder.count += len(values)

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    return recorder, processes + [collector]


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000 if values else 0.0


def sample():
    with open(f"/proc/{args.pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    files = len(subprocess.run(["ls", f"/proc/{args.pid}/fd"], capture_output=True, text=True).stdout.split())
    query = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{args.database}'"
    postgres = int(subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-h", args.pg_socket, "-U", "postgres", "-qAtc", query],
                                  capture_output=True, text=True).stdout.strip() or 0)
    redis = 0
    for node in args.redis_ports.split(","):
        info = subprocess.run(["redis-cli", "-p", node, "INFO", "memory"], capture_output=True, text=True).stdout
        redis += next(int(line.split(":")[1]) for line in info.splitlines() if line.startswith("used_memory:"))
    return rss, files, postgres, redis / (1 << 20)


seed()
probe, threads = run(20)
for thread in threads:
    thread.join()
capacity = probe.count / 20
rate = capacity / 2
print(f"capacity (closed loop, {args.processes} processes x {args.threads} clients): {capacity:.0f} req/s; soaking at {rate:.0f} req/s for {args.minutes:g} min", flush=True)

rows = []
recorder, threads = run(args.minutes * 60, rate)
started = time.time()
while time.time() < started + args.minutes * 60 - 1:
    time.sleep(min(30, max(0.1, started + 30 * (len(rows) + 1) - time.time())))
    values, errors = recorder.take()
    rss, files, postgres, redis = sample()
    row = {"minute": round((time.time() - started) / 60, 2), "requests": len(values), "rate": round(len(values) / 30, 1), "errors": errors,
           "p50_ms": round(pct(values, 50), 2), "p99_ms": round(pct(values, 99), 2), "rss_mib": round(rss, 1), "open_files": files,
           "pg_connections": postgres, "redis_mib": round(redis, 1)}
    rows.append(row)
    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

with open(args.out + ".csv", "w") as out:
    out.write(",".join(rows[0]) + "\n")
    for row in rows:
        out.write(",".join(str(v) for v in row.values()) + "\n")


def svg(rows, path):
    """Four panels over time: RSS, p50/p99, open files and PostgreSQL connections, Redis memory."""
    panels = [("RSS (MiB)", ["rss_mib"]), ("latency (ms)", ["p50_ms", "p99_ms"]), ("open files / PG connections", ["open_files", "pg_connections"]),
              ("Redis used memory (MiB)", ["redis_mib"])]
    colors = {"rss_mib": "#1f77b4", "p50_ms": "#2ca02c", "p99_ms": "#d62728", "open_files": "#9467bd", "pg_connections": "#ff7f0e", "redis_mib": "#8c564b"}
    width, height, left, top = 900, 220, 70, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height * len(panels) + 40}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">Soak: {args.minutes:g} min at {rate:.0f} req/s (half of {capacity:.0f})</text>']
    end = max(row["minute"] for row in rows) or 1
    for index, (title, keys) in enumerate(panels):
        y0 = top + index * height
        plot_w, plot_h = width - left - 20, height - 60
        peak = max(max(row[k] for row in rows) for k in keys) * 1.1 or 1
        parts.append(f'<text x="{left}" y="{y0 + 12}" font-weight="bold">{title}</text>')
        parts.append(f'<rect x="{left}" y="{y0 + 20}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
        for tick in range(5):
            value = peak * tick / 4
            y = y0 + 20 + plot_h - plot_h * tick / 4
            parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{value:.0f}</text>')
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y}" y2="{y}" stroke="#eee"/>')
        for tick in range(7):
            minute = end * tick / 6
            x = left + plot_w * tick / 6
            parts.append(f'<text x="{x}" y="{y0 + 20 + plot_h + 14}" text-anchor="middle">{minute:.0f} min</text>')
        for k_index, key in enumerate(keys):
            points = " ".join(f"{left + plot_w * row['minute'] / end:.1f},{y0 + 20 + plot_h - plot_h * row[key] / peak:.1f}" for row in rows)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colors[key]}" stroke-width="2"/>')
            parts.append(f'<text x="{left + plot_w - 10}" y="{y0 + 36 + 14 * k_index}" text-anchor="end" fill="{colors[key]}">{key}</text>')
    parts.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(parts))


svg(rows, args.out + ".svg")
warm = [row for row in rows if row["minute"] <= 5.01] or rows[:1]
late = [row for row in rows if row["minute"] > max(row["minute"] for row in rows) - 5]
rss_start, rss_end = warm[-1]["rss_mib"], rows[-1]["rss_mib"]
p99_start, p99_end = statistics.median(r["p99_ms"] for r in warm), statistics.median(r["p99_ms"] for r in late)
print(f"summary: {rows[-1]['minute']:.1f} min at {rate:.0f} req/s ({sum(r['requests'] for r in rows)} requests, {sum(r['errors'] for r in rows)} errors); "
      f"RSS {rss_start} MiB at 5 min -> {rss_end} MiB ({(rss_end / rss_start - 1) * 100:+.1f} %, target <= +5 %); "
      f"p99 {p99_start:.1f} ms (first 5 min) -> {p99_end:.1f} ms (last 5 min) ({p99_end / p99_start:.2f}x, target <= 1.5x); "
      f"open files {rows[0]['open_files']} -> {rows[-1]['open_files']}; PG connections {rows[0]['pg_connections']} -> {rows[-1]['pg_connections']}; "
      f"Redis {rows[0]['redis_mib']} -> {rows[-1]['redis_mib']} MiB")
time.sleep(2)
with recorder.lock:
    if recorder.statuses:
        print("errors by request and status (0: no answer):", ", ".join(f"{k}: {v}" for k, v in sorted(recorder.statuses.items())))
print(f"wrote {args.out}.csv and {args.out}.svg")
