# Sourced by scripts/test-bindings and ffi/bench.sh: installs (once) what the foreign-
# language tests need and sets KC (Kotlin compiler dist), CP (JNA + coroutines jars),
# PYTHON (a venv with pytest). Versions are the ones proven in the team notes.
#   - JNA from Debian (libjna-java), kotlinc 2.4.20 from npm (kotlin-compiler, which also
#     bundles kotlinx-coroutines-core-jvm), pytest 9.2.0 from PyPI.
tools=${SATCHEL_TOOLS:-$PWD/target/tools}
mkdir -p "$tools"

if [[ ! -f /usr/share/java/jna.jar ]]; then
  echo "installing JNA (Debian package libjna-java)" >&2
  apt-get install -y -q --no-install-recommends libjna-java > /dev/null 2>&1 || {
    apt-get update -q > /dev/null && apt-get install -y -q --no-install-recommends libjna-java > /dev/null
  }
fi

KC=$tools/kotlin/node_modules/kotlin-compiler
if [[ ! -x $KC/bin/kotlinc ]]; then
  echo "installing kotlinc 2.4.20 (npm package kotlin-compiler)" >&2
  npm install --prefix "$tools/kotlin" --no-audit --no-fund --no-save --loglevel=error \
    kotlin-compiler@2.4.20 > /dev/null
fi
CP=/usr/share/java/jna.jar:$KC/lib/kotlinx-coroutines-core-jvm.jar

PYTHON=$tools/venv/bin/python
if [[ ! -x $tools/venv/bin/pytest ]]; then
  echo "installing pytest 9.2.0 into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$PYTHON" -m pip install -q --disable-pip-version-check pytest==9.2.0
fi
export JAVA_OPTS=${JAVA_OPTS:--Xmx2g}
