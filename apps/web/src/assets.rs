//! The files the page loads, built into the binary: htmx (vendored, checksummed), our
//! script and our style sheet. Nothing is loaded from anywhere but this server.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// htmx 2.0.11, see `assets/README.md`.
pub const HTMX: &str = include_str!("../assets/htmx.min.js");
/// The SHA-256 of [`HTMX`] as vendored (a test compares).
#[cfg(test)]
pub const HTMX_SHA256: &str = include_str!("../assets/htmx.min.js.sha256");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

const JS: &str = "text/javascript; charset=utf-8";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/htmx.min.js",
            get(|| async { ([(header::CONTENT_TYPE, JS)], HTMX).into_response() }),
        )
        .route(
            "/assets/app.js",
            get(|| async { ([(header::CONTENT_TYPE, JS)], APP_JS).into_response() }),
        )
        .route(
            "/assets/app.css",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
            }),
        )
}
