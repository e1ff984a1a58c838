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
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server (command in "$@"), waits for its `listening on ADDR` line, sets $addr.
start() {
  local out=$work/server.out
  : > "$out"
  "$@" > "$out" 2> "$work/server.err" &
  server_pid=$!
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/^listening on //p' "$out")
    [[ -n $addr ]] && return 0
    sleep 0.05
  done
  echo "server did not start:" >&2
  cat "$work/server.err" >&2
  exit 1
}

stop() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# wrk closed loop (label, send-ids file); prints wrk's report, appends a JSON line.
closed() {
  local label=$1
  SEND_IDS=$2 wrk -t2 -c"$senders" -d"${seconds}s" --latency -s "$lua" "http://$addr" \
    | tee "$work/wrk.txt"
  python3 - "$label" "$work/wrk.txt" >> "$results" <<'PY'
import json, re, sys
text = open(sys.argv[2]).read()
def ms(label):
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(json.dumps({"label": sys.argv[1], "phase": "closed", "per_second": rps,
                  "p50_ms": ms("50%"), "p99_ms": ms("99%"),
                  "errors": int(bad.group(1)) if bad else 0,
                  "socket_errors": errors.group(1) if errors else None}))
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

python3 - "$results" <<'PY'
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
print("JSON:", json.dumps(list(rows.values())))
PY
