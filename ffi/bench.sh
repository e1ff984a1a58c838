#!/usr/bin/env bash
# Binding overhead: encrypt + decrypt of a 100-byte message through the Kotlin bindings
# (JVM) against the same operation through the same objects in Rust (Criterion), in the
# same run. Overhead per message = Kotlin − Rust.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/binding-tools.sh

cargo build --release --locked -q -p satchel-ffi
out=target/bindings-bench
rm -rf "$out"
target/release/uniffi-bindgen generate --no-format --language kotlin --out-dir "$out" \
  target/release/libsatchel_ffi.so > /dev/null
if [[ ${UNPATCHED:-0} != 1 ]]; then
  python3 scripts/patch-kotlin-bindings.py "$out/uniffi/satchel/satchel.kt"
fi
"$KC/bin/kotlinc" -nowarn -cp "$CP" -d "$out/bench.jar" "$out/uniffi/satchel/satchel.kt" \
  ffi/benches/kotlin/BindingBench.kt 2> /dev/null

jna=$(unzip -p /usr/share/java/jna.jar META-INF/MANIFEST.MF 2>/dev/null | sed -n 's/^Implementation-Version: //p' | tr -d '\r')
echo "machine: $(nproc) cores; $(java -version 2>&1 | head -1); JNA ${jna:-unknown}; bindings $([[ ${UNPATCHED:-0} == 1 ]] && echo as generated || echo patched)"
cargo bench --profile release --locked -q -p satchel-ffi --bench ffi -- --warm-up-time 1 --measurement-time 4 \
  2>/dev/null | tee "$out/rust.txt" | grep -E "^ffi_rust|time:"
java -Djna.library.path=target/release -cp "$out/bench.jar:$CP:$KC/lib/kotlin-stdlib.jar" \
  BindingBenchKt | tee "$out/kotlin.txt"
python3 - "$out/rust.txt" "$out/kotlin.txt" <<'PY'
import re, sys
rust = open(sys.argv[1]).read()
def median_us(name):
    m = re.search(name + r"\s*\n?\s*time:\s*\[\S+ \S+ (\S+) (\S+)", rust)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3}[unit]
kotlin = dict(re.findall(r"kotlin (\S+) ([\d.]+) us/message", open(sys.argv[2]).read()))
single_rust = median_us("ffi_rust/roundtrip_100")
batch_rust = median_us("ffi_rust/roundtrip_100_batch100") / 100
single_kt, batch_kt = float(kotlin["single"]), float(kotlin["batch100"])
print(f"per message: Rust {single_rust:.2f} us, Kotlin {single_kt:.2f} us -> binding overhead "
      f"{single_kt - single_rust:.2f} us (ratio {single_kt / single_rust:.2f})")
print(f"batches of 100: Rust {batch_rust:.2f} us, Kotlin {batch_kt:.2f} us -> overhead "
      f"{batch_kt - batch_rust:.2f} us per message (ratio {batch_kt / batch_rust:.2f})")
PY
