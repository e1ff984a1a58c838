//! Live updates: a background sync every `poll` (fetches, decrypts and stores new
//! mail, sends what waits in the outbox), and `/events`, a server-sent event stream
//! that tells the page "something changed" — no content, just a nudge; the page then
//! re-fetches its fragments (`hx-trigger="satchel-changed from:body"`, see `app.js`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::state::AppState;

/// Runs until the process ends.
pub(crate) async fn sync_loop(state: AppState, poll: Duration) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let Some(mut client) = state.client().await else {
            continue;
        };
        if client.whoami().is_err() {
            continue;
        }
        let waiting_before = client.waiting_to_send().unwrap_or(0);
        match client.sync().await {
            Ok(report) => {
                if failing {
                    tracing::info!("the relay answers again");
                    failing = false;
                }
                let changed = report.fetched > 0
                    || !report.messages.is_empty()
                    || report.flushed > 0
                    || report.admitted > 0
                    || report.pending != waiting_before;
                drop(client);
                if changed {
                    state.changed();
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "sync failed; retrying every poll");
                    failing = true;
                }
            }
        }
    }
}

/// `/events`.
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.subscribe();
    let stream = futures_util::stream::unfold(changes, |mut changes| async move {
        changes.changed().await.ok()?;
        Some((Ok(Event::default().event("changed").data("1")), changes))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
