//! Integration tests of the relay's HTTP API, each against a real server on 127.0.0.1:0
//! (in-process via `serve`, or the compiled binary in `process`).

// Test code may panic on what it set up itself; the workspace lints are for library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod support;

mod admissions;
mod directory;
mod envelopes;
mod errors;
mod faults;
mod invites;
mod limits;
mod members;
mod offices;
mod operations;
mod prekeys;
mod privacy;
mod process;
mod push;
mod queues;
mod replay;
mod restore;
mod schools;
mod several_relays;
mod shared;
mod slow_clients;
