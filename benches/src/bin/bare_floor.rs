//! `bare-floor`: the floor the relay's deposit path is compared against.
//!
//! An axum server with one route, `POST /v1/envelopes`, that does what a durable deposit
//! cannot avoid and nothing else: read the body, check the version byte and length, hand
//! it to one writer thread that commits everything queued in one SQLite transaction (WAL,
//! `synchronous=FULL`), and answer `202 {"id": N}` after the commit. No queue lookup, no
//! quotas, no rate limiting, no logging.
//!
//! ```text
//! bare-floor --data DIR [--listen 127.0.0.1:0] [--per-deposit]
//! ```
//!
//! `--per-deposit` commits every deposit in its own transaction (the naive design), to
//! show what group commit is worth. Prints `listening on ADDR` when ready, like the relay.

#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::serve::ListenerExt as _;
use clap::Parser;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Most deposits committed in one transaction (the relay uses the same bound).
const MAX_GROUP: usize = 4096;

#[derive(Parser)]
#[command(about = "Bare axum + SQLite deposit server: the relay benchmark's floor")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Folder for the database (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Commit each deposit in its own transaction instead of in groups.
    #[arg(long)]
    per_deposit: bool,
}

struct Job {
    queue: [u8; 16],
    envelope: Bytes,
    reply: oneshot::Sender<Option<i64>>,
}

fn open(data: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(data.join("floor.sqlite3"))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS messages (
             id INTEGER PRIMARY KEY,
             queue BLOB NOT NULL,
             envelope BLOB NOT NULL
         );
         CREATE INDEX IF NOT EXISTS messages_queue ON messages (queue, id);",
    )?;
    Ok(conn)
}

fn commit(conn: &mut Connection, jobs: &mut Vec<Job>) {
    let ids: rusqlite::Result<Vec<i64>> = (|| {
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(jobs.len());
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO messages (queue, envelope) VALUES (?1, ?2)")?;
            for job in jobs.iter() {
                insert.execute((&job.queue[..], &job.envelope[..]))?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    })();
    let ids = ids
        .map_err(|e| eprintln!("bare-floor: commit failed: {e}"))
        .ok();
    for (index, job) in jobs.drain(..).enumerate() {
        let id = ids.as_ref().and_then(|ids| ids.get(index).copied());
        let _ = job.reply.send(id);
    }
}

fn writer(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, per_deposit: bool) {
    let limit = if per_deposit { 1 } else { MAX_GROUP };
    let mut group = Vec::with_capacity(limit);
    while let Some(first) = jobs.blocking_recv() {
        group.push(first);
        while group.len() < limit {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit(&mut conn, &mut group);
    }
}

async fn deposit(State(jobs): State<mpsc::Sender<Job>>, body: Bytes) -> (StatusCode, String) {
    let queue = match body.get(1..17).map(<[u8; 16]>::try_from) {
        Some(Ok(queue)) if body.first() == Some(&1) => queue,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "{\"error\":\"invalid_envelope\"}".into(),
            );
        }
    };
    let (reply, answer) = oneshot::channel();
    let job = Job {
        queue,
        envelope: body,
        reply,
    };
    if jobs.send(job).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    match answer.await {
        Ok(Some(id)) => (StatusCode::ACCEPTED, format!("{{\"id\":{id}}}")),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data)?;
    let conn = open(&args.data)?;
    let (sender, receiver) = mpsc::channel(8192);
    let per_deposit = args.per_deposit;
    std::thread::spawn(move || writer(conn, receiver, per_deposit));

    let app = Router::new()
        .route("/v1/envelopes", post(deposit))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    // Small answers should not wait for Nagle's algorithm (the relay does the same).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
