//! Satchel's wire and storage formats.
//!
//! The `.proto` files under `proto/satchel/v1/` are the source of truth; this crate only
//! exposes the types [prost] generates from them (compiled in `build.rs` with the pure-Rust
//! compiler protox, so building needs no system `protoc`).
//!
//! These are plain data carriers with no validation. `satchel-core` parses them into typed
//! domain values and never hands them out unchecked. The byte layouts that are *not*
//! protobuf (envelopes, ratchet headers) are documented in `docs/PROTOCOL.md`.

/// Version 1 of the formats (protobuf package `satchel.v1`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/satchel.v1.rs"));
}

pub use prost::Message;
