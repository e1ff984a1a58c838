#!/usr/bin/env bash
# An announcement to every device of a school, end to end on loopback: the relay with
# embedded SQLite, and relay-load --announce holding DEVICES recipient states (queue and
# group session). Per round the author encrypts one 100-byte announcement and makes one
# shared deposit; the recipients then fetch, decrypt and acknowledge over FETCHERS
# connections. The same run measures a 1:1 fan-out of the same text for comparison.
#
#   benches/announce.sh                      2,000 devices, 5 rounds, 64 fetchers
#   DEVICES=500 ROUNDS=3 benches/announce.sh
set -euo pipefail
cd "$(dirname "$0")/.."

devices=${DEVICES:-2000}
rounds=${ROUNDS:-5}
fetchers=${FETCHERS:-64}
cargo build --release --locked -q -p satchel-relay -p satchel-benches --bin satchel-relay \
  --bin relay-load
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Per-address limits lifted: every simulated device comes from 127.0.0.1.
target/release/satchel-relay --listen 127.0.0.1:0 --data "$work/relay" --rate-limit 1000000 \
  --max-connections-per-address 8192 --log warn > "$work/out" 2> "$work/err" &
pid=$!
addr=
for _ in $(seq 1 200); do
  addr=$(sed -n 's/^listening on //p' "$work/out")
  [[ -n $addr ]] && break
  sleep 0.05
done
[[ -n $addr ]] || { cat "$work/err" >&2; exit 1; }
echo "cores: $(nproc); relay on $addr; $devices devices, $rounds rounds, $fetchers fetchers"
target/release/relay-load --addr "$addr" --queues "$devices" --fetchers "$fetchers" \
  --announce "$rounds" --database "$work/relay/relay.sqlite3"
