//! The app's conversation view (`satchel app`, issue 11's target: a conversation of
//! 1,000 messages renders in < 200 ms of server time):
//!
//! * `conversation_view/history_1000` — the baseline: `Client::history`, reading and
//!   decrypting the 1,000 stored messages;
//! * `conversation_view/page_1000` — the whole page as the app serves it: the history,
//!   the directory lookup, the outbox state and the HTML (every name and text escaped).
//!
//! The ratio page / history is what the web layer adds.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use satchel_web::i18n::Lang;
use satchel_web::pages::conversation::person_page;

const MESSAGES: usize = 1_000;

/// 1,000 messages when measuring (`cargo bench`); 100 when `cargo test` runs the bench
/// once to check it works, which needs no full fixture.
fn messages() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        MESSAGES
    } else {
        100
    }
}

fn conversation_view(c: &mut Criterion) {
    let rt = support::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (relay, parent) = rt.block_on(async {
        let (relay, url) = support::start_relay(&dir.path().join("relay")).await;
        let (_, mut teacher, mut parent) = support::school(dir.path(), &url, false).await;
        // A reply first, so the rest goes through the session's queue rather than the
        // parent's first-contact mailbox (which takes 500 at once from one network).
        teacher.send("Sam's mum", "first").await.unwrap();
        parent.sync().await.unwrap();
        parent.send("Ms Rivera", "ok").await.unwrap();
        teacher.sync().await.unwrap();
        // 100-character messages with markup in them, as escaping costs.
        let text = format!("{} <b>trip</b> & \"lunch\"", "x".repeat(74));
        for _ in 2..messages() {
            teacher.send("Sam's mum", &text).await.unwrap();
        }
        while parent.history("Ms Rivera").unwrap().len() < messages() {
            parent.sync().await.unwrap();
        }
        (relay, parent)
    });
    let id = parent.person("Ms Rivera").unwrap().account_id.to_hex();
    let mut group = c.benchmark_group("conversation_view");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("history_1000", |b| {
        b.iter(|| assert_eq!(parent.history(&id).unwrap().len(), messages()));
    });
    group.bench_function("page_1000", |b| {
        b.iter(|| {
            let page = person_page(&parent, Lang::En, &id).unwrap().into_string();
            assert!(page.len() > messages() * 100);
        });
    });
    group.finish();
    rt.block_on(relay.shutdown());
}

criterion_group!(benches, conversation_view);
criterion_main!(benches);
