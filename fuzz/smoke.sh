#!/usr/bin/env bash
# Short fuzzing run of every fuzz target (satchel-core and the client store), on stable Rust.
#
#   fuzz/smoke.sh                       # every target, 10 s each
#   FUZZ_SECONDS=60 fuzz/smoke.sh header prekey_bundle
#
# For each target the committed seeds (fuzz/seeds/<t>/) are copied into the working
# corpus (fuzz/corpus/<t>/, gitignored), which libFuzzer then grows; the seeds are never
# written to. Exits non-zero if any target crashes (artifacts in fuzz/artifacts/<t>/) or
# fails to build. Installs cargo-fuzz if it is missing. The protobuf targets also get
# fuzz/protobuf.dict (extreme varints).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${FUZZ_SECONDS:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# -s none: no sanitizer, so no nightly-only flags.
cargo fuzz build -s none

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    if [ ! -d "fuzz/seeds/$t" ]; then
        echo "error: no seeds for target $t (fuzz/seeds/$t)" >&2
        failed+=("$t")
        continue
    fi
    mkdir -p "fuzz/corpus/$t"
    cp -p "fuzz/seeds/$t"/* "fuzz/corpus/$t/"
    extra=()
    case "$t" in
        persisted_state | prekey_bundle | one_time_prekey | sealed_content | sender_key_distribution | group_state) extra=(-dict=fuzz/protobuf.dict) ;;
    esac
    echo "=== $t: ${seconds}s"
    status=0
    cargo fuzz run -s none "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" "${extra[@]}" \
        2>&1 | tee "$logs/$t.log" || status=$?
    done_line="$(grep -E '^Done [0-9]+ runs' "$logs/$t.log" | tail -n 1 || true)"
    rate="$(grep -oE 'exec/s: [0-9]+' "$logs/$t.log" | tail -n 1 || true)"
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        summary+=("$t: FAILED (exit $status), see fuzz/artifacts/$t/")
    else
        summary+=("$t: ${done_line:-no summary} ${rate:+($rate)}")
    fi
done

echo
echo "=== fuzz smoke summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
