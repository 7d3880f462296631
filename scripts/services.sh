#!/usr/bin/env bash
# Starts or stops the project's Redis and PostgreSQL as plain processes on loopback, with
# their data under .data/ in the checkout. Safe to run again while they run or after a crash.
#
#   scripts/services.sh up      start (and create the database and role) if not running
#   scripts/services.sh down    stop both
#   scripts/services.sh status
#
# One redis-server per loopback node of the topology file (TOPOLOGY, default Topology/local.yaml),
# or the ports in REDIS_PORTS; PostgreSQL on PG_PORT (default 5432). A topology that describes a
# Redis Cluster (`cluster: seeds: [...]`, e.g. Topology/cluster.yaml) gets one cluster-mode
# redis-server per seed, joined by `redis-cli --cluster create --cluster-replicas 1` unless they
# already form a cluster (a running one is reused; nodes restarted after a crash rejoin it).
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/.data"
pg_bin=/usr/lib/postgresql/15/bin
pg_port="${PG_PORT:-5432}"
pg_data="$data/postgres"
topology="${TOPOLOGY:-$root/Topology/local.yaml}"
cluster_ports=""
if [ -f "$topology" ] && grep -qE '^cluster:' "$topology"; then
    cluster_ports="$(sed -n '/^cluster:/,/^[^ #]/p' "$topology" | grep -oE '(127\.0\.0\.1|localhost):[0-9]+' | grep -oE '[0-9]+$' | tr '\n' ' ')"
    REDIS_PORTS="${REDIS_PORTS:-none}"
fi
if [ -z "${REDIS_PORTS:-}" ] && [ -f "$topology" ]; then
    REDIS_PORTS="$(grep -oE 'address: *"?(127\.0\.0\.1|localhost):[0-9]+' "$topology" | grep -oE '[0-9]+$' | tr '\n' ' ')"
fi
redis_ports="${REDIS_PORTS:-6379}"
[ "$redis_ports" = none ] && redis_ports=""

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

redis_up() {
    local port=$1 dir="$data/redis-$1"
    shift
    if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then return 0; fi
    mkdir -p "$dir"
    rm -f "$dir/redis.pid"
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no \
        --protected-mode yes "$@" >/dev/null
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis on port $port did not start; see $dir/redis.log" >&2
    return 1
}

# Nodes of a formed cluster (seen from port $1) that came back without their configuration
# (nodes.conf lost) are alone: each joins again as a replica (once the slots of the master it was
# have a master again), and the entry of the node it replaces (without address or slots)
# is forgotten on every node.
cluster_rejoin() {
    local port info rejoined=0 master replica
    # A master whose node came back as a new, lone node at its address is not marked failed (its
    # address answers), so its replica never takes over: that replica is told to (FAILOVER FORCE).
    for master in $(redis-cli -h 127.0.0.1 -p "$1" cluster nodes | awk '$3 ~ /master/ && $3 ~ /noaddr/ && NF > 8 { print $1 }'); do
        for replica in $(redis-cli -h 127.0.0.1 -p "$1" cluster nodes | awk -v m="$master" '$3 ~ /slave/ && $4 == m && $8 == "connected" { split($2, a, "@"); n = split(a[1], b, ":"); print b[n] }'); do
            redis-cli -h 127.0.0.1 -p "$replica" cluster failover force >/dev/null 2>&1 && break
        done
    done
    for port in $cluster_ports; do
        info=$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null) || continue
        if grep -q '^cluster_known_nodes:1\b' <<<"$info" && grep -q '^cluster_slots_assigned:0\b' <<<"$info"; then
            redis-cli --cluster add-node "127.0.0.1:$port" "127.0.0.1:$1" --cluster-slave >>"$data/cluster-create.log" 2>&1 && rejoined=1
        fi
    done
    [ $rejoined = 1 ] && sleep 2
    local id
    for id in $(redis-cli -h 127.0.0.1 -p "$1" cluster nodes | awk '$3 ~ /noaddr/ && $3 !~ /fail\?/ && NF <= 8 { print $1 }'); do
        for port in $cluster_ports; do redis-cli -h 127.0.0.1 -p "$port" cluster forget "$id" >/dev/null 2>&1 || true; done
    done
}

# The cluster of the topology's seeds: each node in cluster mode (its nodes.conf in its folder, so a
# node restarted after a crash rejoins), then, unless one of them already sees every slot
# assigned, one `redis-cli --cluster create` (3 masters, a replica each; after an interrupted
# creation, on nodes started afresh); a node that lost its nodes.conf joins a formed cluster as
# a replica. Waits for cluster_state:ok on every node.
cluster_up() {
    local port
    for port in $cluster_ports; do
        redis_up "$port" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000
    done
    set -- $cluster_ports
    [ $# -gt 0 ] || return 0
    # A cluster exists when some node sees every slot assigned (a node that lost its
    # configuration, or is down, does not make the others' cluster one to create again).
    local formed=0
    for port in $cluster_ports; do
        redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_slots_assigned:16384' && formed=$port
    done
    if [ $formed != 0 ]; then
        cluster_rejoin "$formed"
    else
        # Not created: a first start, or a creation that was interrupted, which leaves nodes that
        # know each other or hold some slots and so refuse to be created again. No node serves
        # every slot, so none holds data the service could read: start every node afresh.
        for port in $cluster_ports; do redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null 2>&1 || true; done
        for port in $cluster_ports; do redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null 2>&1 || true; done
        local addresses=()
        for port in $cluster_ports; do addresses+=("127.0.0.1:$port"); done
        redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$data/cluster-create.log" 2>&1 \
            || { cat "$data/cluster-create.log" >&2; return 1; }
    fi
    local attempt
    for attempt in $(seq 1 150); do
        local ok=1
        for port in $cluster_ports; do
            redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
        done
        [ $ok = 1 ] && return 0
        # (A lone node's rejoin is refused while a failover is still under way: tried again.)
        [ $formed != 0 ] && [ $((attempt % 10)) = 0 ] && cluster_rejoin "$formed"
        sleep 0.2
    done
    echo "the Redis Cluster on ports $cluster_ports did not reach cluster_state:ok (see $data/cluster-create.log and each node's redis.log)" >&2
    return 1
}

pg_up() {
    mkdir -p "$data"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        mkdir -p "$pg_data" "$data/pg-socket" "$data/pg-log"
        chown postgres "$pg_data" "$data/pg-socket" "$data/pg-log"
        chmod 700 "$pg_data"
    else
        mkdir -p "$pg_data" "$data/pg-socket" "$data/pg-log"
    fi
    if [ ! -f "$pg_data/PG_VERSION" ]; then
        as_postgres "$pg_bin/initdb" -D "$pg_data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; return 1; }
        cat >>"$pg_data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$data/pg-socket'
max_connections = 400
max_locks_per_transaction = 256
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
    fi
    if ! as_postgres "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
        if "$pg_bin/pg_isready" -h 127.0.0.1 -p "$pg_port" -q; then
            echo "port $pg_port is taken by another PostgreSQL (not this checkout's .data/postgres);" \
                "stop it, or use PG_PORT=<port> with LEADERBOARD_POSTGRES_PORT=<port>" >&2
            return 1
        fi
        # (max_connections also here, so a data directory made by an older script gets it: the test
        # run opens a pool per test, and its suites run side by side. shared_buffers and
        # max_wal_size for bulk imports: a 1M-row import spent half its time in index pages read
        # again and in checkpoints every 16 s with 256 MB and the 1 GB default.)
        as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$data/pg-log/postgres.log" \
            -o "-c max_connections=400 -c shared_buffers=1GB -c max_wal_size=4GB" -w -t 60 start >/dev/null \
            || { tail -20 "$data/pg-log/postgres.log" >&2; return 1; }
    fi
    for _ in $(seq 1 100); do
        "$pg_bin/pg_isready" -h 127.0.0.1 -p "$pg_port" -q && break
        sleep 0.1
    done
    psql_admin() { as_postgres psql -h "$data/pg-socket" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
    if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'leaderboard'")" != 1 ]; then
        psql_admin -c "CREATE ROLE leaderboard LOGIN PASSWORD 'secret'"
    fi
    for db in leaderboard ${EXTRA_DATABASES:-}; do
        if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
            psql_admin -c "CREATE DATABASE $db OWNER leaderboard"
        fi
    done
}

pg_down() {
    [ -f "$pg_data/PG_VERSION" ] || return 0
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
}

redis_down() {
    local port=$1
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-up}" in
up)
    "$root/scripts/install-deps.sh"
    for port in $redis_ports; do redis_up "$port"; done
    cluster_up
    pg_up
    [ -n "$redis_ports" ] && redis_note="redis on $(echo $redis_ports | tr ' ' ',')" || redis_note=""
    [ -n "$cluster_ports" ] && redis_note="${redis_note:+$redis_note, }redis cluster on $(echo $cluster_ports | tr ' ' ',')"
    echo "services up: $redis_note, postgres on $pg_port (data in .data/)"
    ;;
down)
    for port in $redis_ports $cluster_ports; do redis_down "$port"; done
    pg_down
    echo "services stopped"
    ;;
status)
    for port in $redis_ports $cluster_ports; do
        printf 'redis %s: %s\n' "$port" "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || echo down)"
    done
    "$pg_bin/pg_isready" -h 127.0.0.1 -p "$pg_port" || true
    ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
