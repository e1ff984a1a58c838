#!/usr/bin/env bash
# The abuse benchmark: honest clients' deposit latency on a relay with its default limits,
# without and with an abuser, in the same run on the same relay.
#
#   benches/abuse.sh                       10 s per phase
#   SECONDS_PER_PHASE=5 RATE=2000 benches/abuse.sh
#
# Phases (relay-load, open loop, latency counted from when each deposit was due):
#   calm     64 honest clients, each from its own loopback address (127.0.1.1-64), together
#            offering RATE deposits/s (default 1,000).
#   abused   the same, while one client (127.0.0.2) tries to hold 1,000 connections and
#            floods requests on every one the relay admits, and another (127.0.0.3) holds
#            200 slowloris sockets trickling one header byte per second. Both reconnect
#            whenever they are refused or cut.
#   calm     again, to show the spread between two unabused runs.
# Everything runs on this machine's 2 cores: the abuser's own CPU use competes with the
# relay, so this is harsher than an abuser elsewhere on the network.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SECONDS_PER_PHASE:-10}
rate=${RATE:-1000}
clients=${CLIENTS:-64}

cargo build --release --locked -q -p satchel-relay -p satchel-benches --bin satchel-relay \
  --bin relay-load
bin=target/release
work=$(mktemp -d)
relay_pid=
cleanup() {
  if [[ -n $relay_pid ]]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The relay with every limit at its default.
"$bin/satchel-relay" --listen 127.0.0.1:0 --data "$work/relay" --log warn \
  > "$work/relay.out" 2> "$work/relay.err" &
relay_pid=$!
addr=
for _ in $(seq 1 200); do
  addr=$(sed -n 's/^listening on //p' "$work/relay.out")
  [[ -n $addr ]] && break
  sleep 0.05
done
[[ -n $addr ]] || { echo "the relay did not start:" >&2; cat "$work/relay.err" >&2; exit 1; }

results=$work/results.jsonl
run() {
  local label=$1; shift
  "$bin/relay-load" --addr "$addr" --label "$label" --queues "$clients" --clients "$clients" \
    --client-networks "$clients" --rate "$rate" --seconds "$seconds" --fetchers 0 "$@" \
    | tee "$work/run.txt"
  grep '^{' "$work/run.txt" >> "$results"
}

echo "== calm: $clients honest clients, $rate deposits/s"
run calm
echo "== abused: the same, plus 1,000 flooding connections and 200 slowloris sockets"
run abused --abuse
echo "== calm again"
run calm2

python3 - "$results" <<'PY'
import json, sys
rows = {(r["label"], r["phase"]): r for r in map(json.loads, open(sys.argv[1]))}
def get(label, phase, key):
    return rows.get((label, phase), {}).get(key, float("nan"))
calm = [get(l, "open", "p99_ms") for l in ("calm", "calm2")]
abused = get("abused", "open", "p99_ms")
print()
print("summary (one run; repeat the script to see the spread)")
print(f"  honest p99: calm {calm[0]:.2f} ms and {calm[1]:.2f} ms, abused {abused:.2f} ms; "
      f"abused / calm (mean) = {abused / (sum(calm) / 2):.2f} (target <= 2)")
print(f"  honest p50: calm {get('calm', 'open', 'p50_ms'):.2f} ms, abused {get('abused', 'open', 'p50_ms'):.2f} ms; "
      f"honest errors: calm {get('calm', 'open', 'errors')}, abused {get('abused', 'open', 'errors')}")
print(f"  abuser: connections admitted {get('abused', 'abuse', 'admitted')}, refused {get('abused', 'abuse', 'refused')}; "
      f"flood answered 2xx {get('abused', 'abuse', 'answered_ok')}, 429 {get('abused', 'abuse', 'rate_limited')}; "
      f"slowloris sockets cut {get('abused', 'abuse', 'slowloris_cut')}")
print("JSON:", json.dumps(list(rows.values())))
PY
