#!/usr/bin/env bash
# The relay load benchmark: the bare floor (axum + SQLite group commit, no protocol work)
# and the relay, driven by the same load generators in the same run, one after the other.
#
#   benches/relay.sh                  10 s per phase
#   SECONDS_PER_PHASE=5 RATE=12000 benches/relay.sh
#
# Phases per server:
#   closed  wrk, 64 connections depositing back to back (throughput). wrk (Debian package
#           `wrk`) is the leanest generator here; the script installs it if apt-get can.
#   open    relay-load, 1,000 connections together offering RATE deposits/s on a fixed
#           schedule; latency counted from when each request was due.
#   fetch   relay-load, FETCHERS (16) connections draining every queue (signed fetch with
#           limit=100, then ack), back to back: drain throughput and per-request latency.
# Then, unless POSTGRES=0, the same closed loop against PostgreSQL (Debian's package,
# started durable by scripts/pg-tmp.sh for this run):
#   floor-pg    bare-floor --database: axum + the same PostgreSQL, one unnest insert per group
#   relay-pg    satchel-relay --database on that PostgreSQL
#   relays-pg   two relays on the same database, wrk split over them (SENDERS/2 each)
# with the CPU each process group used, to say which one is the bottleneck.
# Everything runs on this machine: the generators compete with the server for the same
# 2 cores, so the numbers are lower bounds for the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SECONDS_PER_PHASE:-10}
rate=${RATE:-10000}
clients=${CLIENTS:-1000}
senders=${SENDERS:-64}

if ! command -v wrk > /dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get install -y -q wrk > /dev/null 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q wrk > /dev/null; }
fi
cargo build --release --locked -q -p satchel-relay -p satchel-benches --bin satchel-relay \
  --bin bare-floor --bin relay-load
bin=target/release
lua=benches/wrk/deposit.lua
work=$(mktemp -d)
servers=()
cgroups=()
PGTMP_DIR=
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for dir in "${cgroups[@]}"; do rmdir "$dir" 2>/dev/null || true; done
  [[ -n $PGTMP_DIR ]] && scripts/pg-tmp.sh stop "$PGTMP_DIR"
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server (command in "$@"), waits for its `listening on ADDR` line, sets $addr
# and adds it to $servers.
start() {
  local out=$work/server-${#servers[@]}.out err=$work/server-${#servers[@]}.err
  : > "$out"
  "$@" > "$out" 2> "$err" &
  servers+=($!)
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/^listening on //p' "$out")
    [[ -n $addr ]] && return 0
    sleep 0.05
  done
  echo "server did not start:" >&2
  cat "$err" >&2
  exit 1
}

# Stops every server started.
stop() {
  for pid in "${servers[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
  servers=()
}

# CPU time (user + system, in clock ticks) used so far by each process given, as
# "pid:ticks" words.
cpu() {
  local pid
  for pid in "$@"; do
    awk -v pid="$pid" '{ sub(/^.*\) /, ""); print pid ":" $12 + $13 }' "/proc/$pid/stat" \
      2>/dev/null || true
  done | tr '\n' ' '
}

# wrk's closed loop (label, send-ids file), SENDERS connections split over the servers at
# the addresses in $addrs, with the CPU the servers ($servers) and PostgreSQL used and how
# busy the machine was; prints wrk's reports, appends a JSON line.
closed() {
  local label=$1 ids=$2
  local n=${#addrs[@]} pids=() i
  rm -f "$work"/wrk-*.txt
  local before_relay before_pg before_all
  before_relay=$(cpu "${servers[@]}")
  # shellcheck disable=SC2046 # one word per pid
  before_pg=$(cpu $(pgrep -x postgres || true))
  before_all=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  for i in "${!addrs[@]}"; do
    SEND_IDS=$ids wrk -t"$(( n > 1 ? 1 : 2 ))" -c"$((senders / n))" -d"${seconds}s" --latency -s "$lua" \
      "http://${addrs[$i]}" > "$work/wrk-$i.txt" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  local after_relay after_pg after_all
  after_relay=$(cpu "${servers[@]}")
  # Connections opened during the loop count too (their whole time is in it).
  # shellcheck disable=SC2046
  after_pg=$(cpu $(pgrep -x postgres || true))
  after_all=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  cat "$work"/wrk-*.txt
  python3 - "$label" "$seconds" "$before_relay" "$after_relay" "$before_pg" "$after_pg" \
    "$before_all" "$after_all" "$(getconf CLK_TCK)" "$work"/wrk-*.txt >> "$results" <<'PY'
import json, re, sys
label, seconds = sys.argv[1], float(sys.argv[2])
tck = int(sys.argv[9])
def ticks(words):
    return {pid: int(n) for pid, n in (w.split(":") for w in words.split())}
def used(before, after):
    b, a = ticks(before), ticks(after)
    return sum(n - b.get(pid, 0) for pid, n in a.items()) / tck
relay_cpu = used(sys.argv[3], sys.argv[4])
pg_cpu = used(sys.argv[5], sys.argv[6])
all_ticks = int(sys.argv[8]) - int(sys.argv[7])
rps, bad, p50, p99 = 0.0, 0, 0.0, 0.0
for path in sys.argv[10:]:
    text = open(path).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad += int(m.group(1)) if m else 0
    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")
    # With several servers: the worst of their percentiles.
    p50, p99 = max(p50, ms("50%")), max(p99, ms("99%"))
cores = all_ticks / tck / seconds
print(json.dumps({"label": label, "phase": "closed", "per_second": rps, "p50_ms": p50, "p99_ms": p99,
                  "errors": bad, "servers_cpu_s": relay_cpu, "postgres_cpu_s": pg_cpu,
                  "machine_busy_cores": cores}))
PY
}

results=$work/results.jsonl
: > "$results"

# Runs relay-load against the server at $addr (label, then its extra flags): setup, then
# wrk's closed loop on the same send ids while relay-load waits, then the open loop (and
# the fetch drain for the relay), collecting the JSON lines.
load() {
  local label=$1
  shift
  coproc LOAD {
    "$bin/relay-load" --addr "$addr" --label "$label" --queues "$clients" \
      --clients "$clients" --rate "$rate" --seconds "$seconds" \
      --send-ids-out "$work/$label-ids.txt" --wait-stdin "$@"
  }
  local load_pid=$LOAD_PID
  addrs=("$addr")
  local ready
  read -r ready <&"${LOAD[0]}"
  [[ $ready == ready ]] || { echo "relay-load failed: $ready" >&2; exit 1; }
  closed "$label" "$work/$label-ids.txt"
  exec {LOAD[1]}>&-
  tee "$work/load.txt" <&"${LOAD[0]}"
  wait "$load_pid"
  grep '^{' "$work/load.txt" >> "$results"
}

echo "== bare floor: axum + SQLite (WAL, synchronous=FULL), group commit, no protocol work"
start "$bin/bare-floor" --data "$work/floor"
load floor --bare --fetchers 0
stop

echo "== bare floor, one transaction per deposit (for scale)"
start "$bin/bare-floor" --data "$work/floor-single" --per-deposit
addrs=("$addr")
closed single "$work/floor-ids.txt"
stop

echo "== relay: satchel-relay with embedded SQLite, durable acknowledgements"
# Per-address limits are lifted: every load client here comes from 127.0.0.1 (the default
# 200 requests/s and 128 connections per client network are for the internet; see
# benches/abuse.sh for them under attack). Quotas stay at their defaults.
start "$bin/satchel-relay" --listen 127.0.0.1:0 --data "$work/relay" --rate-limit 1000000 \
  --max-connections-per-address 8192 --log warn
load relay --fetchers "${FETCHERS:-16}"
stop

if [[ ${POSTGRES:-1} != 0 ]]; then
  echo "== PostgreSQL (durable: fsync on, synchronous_commit on), started for this run"
  eval "$(PG_DURABLE=1 scripts/pg-tmp.sh start)"

  # A relay on the run's PostgreSQL, with the load's per-address limits lifted.
  start_pg_relay() {
    start "$bin/satchel-relay" --listen 127.0.0.1:0 --database "$DATABASE_URL" \
      --rate-limit 1000000 --max-connections-per-address 8192 --log warn
  }

  # The cgroup for relay N's CPU budget: cgroup v1's cpu controller or cgroup v2's
  # cpu.max at the root, made on first use and removed when the run ends.
  cpu_budget_dir() {
    if [[ -w /sys/fs/cgroup/cpu/cgroup.procs ]]; then
      echo "/sys/fs/cgroup/cpu/satchel-bench-$1"
    elif [[ -w /sys/fs/cgroup/cgroup.procs ]] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
      echo "/sys/fs/cgroup/satchel-bench-$1"
    else
      return 1
    fi
  }
  cpu_budget_works() {
    local dir quota
    for n in 1 2; do
      dir=$(cpu_budget_dir "$n") || return 1
      mkdir -p "$dir" 2>/dev/null || return 1
      cgroups+=("$dir")
      quota=$(python3 -c "print(round($budget * 100000))")
      if [[ -e $dir/cpu.cfs_quota_us ]]; then
        echo 100000 > "$dir/cpu.cfs_period_us" && echo "$quota" > "$dir/cpu.cfs_quota_us" || return 1
      else
        echo "$quota 100000" > "$dir/cpu.max" || return 1
      fi
    done
  }
  start_pg_relay_in_budget() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    start sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$(cpu_budget_dir "$1")" \
      "$bin/satchel-relay" --listen 127.0.0.1:0 --database "$DATABASE_URL" \
      --rate-limit 1000000 --max-connections-per-address 8192 --log warn
  }

  echo "== bare floor on PostgreSQL: axum + one unnest insert per group, no protocol work"
  start "$bin/bare-floor" --data "$work/floor-pg" --database "$DATABASE_URL"
  addrs=("$addr")
  closed floor-pg "$work/floor-ids.txt"
  stop

  echo "== relay on PostgreSQL"
  start_pg_relay
  addrs=("$addr")
  coproc SETUP {
    "$bin/relay-load" --addr "$addr" --label relay-pg --queues "$clients" --clients 0 \
      --fetchers 0 --send-ids-out "$work/relay-pg-ids.txt" --wait-stdin
  }
  setup_pid=$SETUP_PID
  read -r ready <&"${SETUP[0]}"
  [[ $ready == ready ]] || { echo "relay-load failed: $ready" >&2; exit 1; }
  exec {SETUP[1]}>&-
  wait "$setup_pid" || true
  closed relay-pg "$work/relay-pg-ids.txt"

  echo "== two relays on the same PostgreSQL, wrk split over both"
  start_pg_relay
  addrs+=("$addr")
  closed relays-pg "$work/relay-pg-ids.txt"
  stop

  echo "== one relay on PostgreSQL again (the database is larger now)"
  start_pg_relay
  addrs=("$addr")
  closed relay-pg-again "$work/relay-pg-ids.txt"
  stop

  # Two relays can only add throughput when each has cores of its own and the database has
  # room to spare; on this machine the relays, PostgreSQL and wrk share 2 cores. So each
  # relay here gets a CPU budget of RELAY_CORES (a cgroup quota, as if it ran on a small
  # machine of its own), which leaves the database and wrk the rest.
  budget=${RELAY_CORES:-0.3}
  if cpu_budget_works; then
    echo "== one relay on PostgreSQL limited to $budget of a core"
    start_pg_relay_in_budget 1
    addrs=("$addr")
    closed relay-pg-budget "$work/relay-pg-ids.txt"
    echo "== two relays on PostgreSQL, each limited to $budget of a core"
    start_pg_relay_in_budget 2
    addrs+=("$addr")
    closed relays-pg-budget "$work/relay-pg-ids.txt"
    stop
  else
    echo "== skipped: relays with a CPU budget need root and a cgroup cpu controller"
  fi
fi

python3 - "$results" "$seconds" "$senders" <<'PY'
import json, sys
rows = {(r["label"], r["phase"]): r for r in map(json.loads, open(sys.argv[1]))}
def get(label, phase, key):
    return rows.get((label, phase), {}).get(key, float("nan"))
relay, floor = get("relay", "closed", "per_second"), get("floor", "closed", "per_second")
print()
print("summary (one run; repeat the script to see the spread)")
print(f"  closed loop (wrk, 64 connections): relay {relay:,.0f} deposits/s, floor {floor:,.0f}/s, "
      f"one transaction per deposit {get('single', 'closed', 'per_second'):,.0f}/s; relay/floor = {relay / floor:.2f}; "
      f"relay p50 {get('relay', 'closed', 'p50_ms'):.2f} ms p99 {get('relay', 'closed', 'p99_ms'):.2f} ms")
print(f"  open loop ({get('relay', 'open', 'per_second'):,.0f}/s achieved, {get('relay', 'open', 'errors')} errors): "
      f"relay p50 {get('relay', 'open', 'p50_ms'):.2f} ms p99 {get('relay', 'open', 'p99_ms'):.2f} ms; "
      f"floor p50 {get('floor', 'open', 'p50_ms'):.2f} ms p99 {get('floor', 'open', 'p99_ms'):.2f} ms; "
      f"p99 relay/floor = {get('relay', 'open', 'p99_ms') / get('floor', 'open', 'p99_ms'):.2f}")
print(f"  fetch: p50 {get('relay', 'fetch', 'p50_ms'):.2f} ms p99 {get('relay', 'fetch', 'p99_ms'):.2f} ms; "
      f"drained {get('relay', 'fetch', 'per_second'):,.0f} messages/s with acks "
      f"(ack p50 {get('relay', 'ack', 'p50_ms'):.2f} ms p99 {get('relay', 'ack', 'p99_ms'):.2f} ms)")
if ("floor-pg", "closed") in rows:
    pg_floor = get("floor-pg", "closed", "per_second")
    one = [get(l, "closed", "per_second") for l in ("relay-pg", "relay-pg-again")]
    two = get("relays-pg", "closed", "per_second")
    print(f"  PostgreSQL closed loop (wrk, {sys.argv[3]} connections): floor {pg_floor:,.0f}/s; one relay {one[0]:,.0f}/s "
          f"and {one[1]:,.0f}/s (relay/floor = {one[0] / pg_floor:.2f}); two relays {two:,.0f}/s "
          f"(two/one = {two / max(one):.2f})")
if ("relays-pg-budget", "closed") in rows:
    one_b, two_b = get("relay-pg-budget", "closed", "per_second"), get("relays-pg-budget", "closed", "per_second")
    busy = get("relays-pg-budget", "closed", "machine_busy_cores")
    pg = get("relays-pg-budget", "closed", "postgres_cpu_s") / float(sys.argv[2])
    print(f"  relays with a CPU budget each: one {one_b:,.0f}/s, two {two_b:,.0f}/s (two/one = {two_b / one_b:.2f}); "
          f"with two, PostgreSQL used {pg:.2f} cores and the machine {busy:.2f} of 2")
print("  CPU per deposit in the closed loops (the rest of the machine's busy time is wrk):")
for (label, phase), r in rows.items():
    if phase == "closed":
        n = r["per_second"] * float(sys.argv[2])
        print(f"    {label}: servers {1000 * r['servers_cpu_s'] / n:.3f} ms CPU per deposit, "
              f"PostgreSQL {1000 * r['postgres_cpu_s'] / n:.3f} ms; machine busy "
              f"{r['machine_busy_cores']:.2f} of 2 cores; p99 {r['p99_ms']:.1f} ms, {r['errors']} errors")
print("JSON:", json.dumps(list(rows.values())))
PY
