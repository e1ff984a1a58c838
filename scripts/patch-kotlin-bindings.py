#!/usr/bin/env python3
"""Patches uniffi's generated Kotlin so that a call reuses its thread's call-status
structures instead of building a new one per FFI call.

uniffi 0.32.2's Kotlin template builds a JNA `UniffiRustCallStatus` (a reflective
`Structure` with native memory and a Cleaner entry) for every FFI call: 4-6 us and about
4.5 KB of garbage each, four calls per bytes-in, bytes-out method (ffi/README.md, "Cost
per call"). The patch keeps, per thread, one structure per nesting depth (arguments are
lowered, and callbacks may call back into Rust, while an outer call holds its status),
resets it before each use, and releases it when the call returns or throws.

Usage: patch-kotlin-bindings.py path/to/uniffi/satchel/satchel.kt

Fails loudly (exit 1) when the generated code no longer has exactly the block this patch
replaces (a new uniffi version): then re-check the template and update or drop the patch.
"""

import sys

ORIGINAL = """private inline fun <U, E: kotlin.Exception> uniffiRustCallWithError(errorHandler: UniffiRustCallStatusErrorHandler<E>, callback: (UniffiRustCallStatus) -> U): U {
    var status = UniffiRustCallStatus()
    val return_value = callback(status)
    uniffiCheckCallStatus(errorHandler, status)
    return return_value
}
"""

MARKER = "// Satchel: call statuses reused per thread (scripts/patch-kotlin-bindings.py)."

PATCHED = MARKER + """
internal class UniffiCallStatusStack {
    private val statuses = ArrayList<UniffiRustCallStatus>()
    private var depth = 0

    fun take(): UniffiRustCallStatus {
        if (depth == statuses.size) statuses.add(UniffiRustCallStatus())
        val status = statuses[depth]
        depth += 1
        status.code = UNIFFI_CALL_SUCCESS
        status.error_buf.capacity = 0
        status.error_buf.len = 0
        status.error_buf.data = null
        return status
    }

    fun release() {
        depth -= 1
    }

    companion object {
        private val perThread = object : ThreadLocal<UniffiCallStatusStack>() {
            override fun initialValue() = UniffiCallStatusStack()
        }

        fun current(): UniffiCallStatusStack = perThread.get()
    }
}

private inline fun <U, E: kotlin.Exception> uniffiRustCallWithError(errorHandler: UniffiRustCallStatusErrorHandler<E>, callback: (UniffiRustCallStatus) -> U): U {
    val stack = UniffiCallStatusStack.current()
    val status = stack.take()
    try {
        val return_value = callback(status)
        uniffiCheckCallStatus(errorHandler, status)
        return return_value
    } finally {
        stack.release()
    }
}
"""


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    source = open(path, encoding="utf-8").read()
    if MARKER in source:
        print(f"{path}: already patched", file=sys.stderr)
        return 0
    found = source.count(ORIGINAL)
    if found != 1:
        print(
            f"{path}: the generated uniffiRustCallWithError is not the one this patch "
            f"replaces (found {found} times): the uniffi template changed. Check whether "
            "it still builds a UniffiRustCallStatus per call, then update or remove "
            "scripts/patch-kotlin-bindings.py.",
            file=sys.stderr,
        )
        return 1
    if "UNIFFI_CALL_SUCCESS" not in source:
        print(f"{path}: UNIFFI_CALL_SUCCESS is gone: the template changed", file=sys.stderr)
        return 1
    open(path, "w", encoding="utf-8").write(source.replace(ORIGINAL, PATCHED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
