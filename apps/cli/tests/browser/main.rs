//! The app in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, fantoccini), against real `satchel app` and `satchel-relay` processes on
//! 127.0.0.1. Screenshots of the main screens go to `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` on PATH (`apt-get install chromium
//! chromium-driver`; `scripts/test` installs them). A missing browser fails the suite:
//! a silent skip would hide a missing install step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

mod browser;
mod flow;
