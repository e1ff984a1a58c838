//! `uniffi-bindgen`, pinned to the uniffi version `satchel-ffi` is built with.
//!
//! ```text
//! cargo run --release -p satchel-ffi --bin uniffi-bindgen -- generate --no-format \
//!     --language kotlin --out-dir bindings/kotlin target/release/libsatchel_ffi.so
//! ```

fn main() {
    uniffi::uniffi_bindgen_main();
}
