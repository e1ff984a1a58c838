//! Satchel's cross-crate tests, in one binary (links once; fast on a 2-core CI).

// Test code may panic on what it set up itself; the workspace lints are for library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod attacks;
mod debug_output;
mod directory_rotation;
mod fuzz_corpus;
mod group_attacks;
mod group_flow;
mod group_properties;
mod groups;
mod join_resume;
mod large_mail;
mod office;
mod prekey_attacks;
mod properties;
mod relay_abuse;
mod relay_flow;
mod revocation_scale;
mod root_backup;
mod school;
mod sessions;
mod support;
mod vectors;
