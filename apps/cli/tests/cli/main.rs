//! End to end: the real `satchel-relay` binary on 127.0.0.1 and real `satchel` processes
//! for a school admin, teachers and parents. One test binary; one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod app;
mod at_rest;
mod concurrent;
mod flow;
mod groups;
mod hostile_text;
mod invites;
mod migration;
mod people;
mod support;
