//! `bare-floor`: the floor the relay's deposit path is compared against.
//!
//! An axum server with one route, `POST /v1/envelopes`, that does what a durable deposit
//! cannot avoid and nothing else: read the body, check the version byte and length, hand
//! it to one writer thread that commits everything queued in one SQLite transaction (WAL,
//! `synchronous=FULL`), and answer `202 {"id": N}` after the commit. No queue lookup, no
//! quotas, no rate limiting, no logging.
//!
//! With `--database postgres://…` the writer commits to PostgreSQL instead, the way the
//! relay's PostgreSQL backend does: one transaction per group, all of its rows inserted
//! with one `unnest` statement (`synchronous_commit` as the server has it, so durable
//! by default).
//!
//! ```text
//! bare-floor --data DIR [--listen 127.0.0.1:0] [--per-deposit] [--database postgres://…]
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
    /// Commit to this PostgreSQL database instead of SQLite (its table `floor_messages`
    /// is emptied at start).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

/// Where the writer commits.
enum Store {
    Sqlite(Connection),
    Postgres(postgres::Client, postgres::Statement),
}

impl Store {
    fn commit(&mut self, jobs: &mut Vec<Job>) {
        let ids = match self {
            Self::Sqlite(conn) => commit_sqlite(conn, jobs).map_err(|e| e.to_string()),
            Self::Postgres(client, insert) => {
                commit_postgres(client, insert, jobs).map_err(|e| e.to_string())
            }
        };
        let ids = ids
            .map_err(|e| eprintln!("bare-floor: commit failed: {e}"))
            .ok();
        for (index, job) in jobs.drain(..).enumerate() {
            let id = ids.as_ref().and_then(|ids| ids.get(index).copied());
            let _ = job.reply.send(id);
        }
    }
}

fn open_postgres(url: &str) -> Result<Store, postgres::Error> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(
        "DROP TABLE IF EXISTS floor_messages;
         CREATE TABLE floor_messages (
             id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             queue BYTEA NOT NULL,
             envelope BYTEA NOT NULL
         );
         CREATE INDEX floor_messages_queue ON floor_messages (queue, id);",
    )?;
    let insert = client.prepare(
        "INSERT INTO floor_messages (queue, envelope) \
         SELECT * FROM unnest($1::bytea[], $2::bytea[]) RETURNING id",
    )?;
    Ok(Store::Postgres(client, insert))
}

fn commit_postgres(
    client: &mut postgres::Client,
    insert: &postgres::Statement,
    jobs: &[Job],
) -> Result<Vec<i64>, postgres::Error> {
    let queues: Vec<&[u8]> = jobs.iter().map(|job| &job.queue[..]).collect();
    let envelopes: Vec<&[u8]> = jobs.iter().map(|job| &job.envelope[..]).collect();
    let mut tx = client.transaction()?;
    let ids = tx
        .query(insert, &[&queues, &envelopes])?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<i64>, _>>()?;
    tx.commit()?;
    Ok(ids)
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

fn commit_sqlite(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let mut ids = Vec::with_capacity(jobs.len());
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO messages (queue, envelope) VALUES (?1, ?2)")?;
        for job in jobs {
            insert.execute((&job.queue[..], &job.envelope[..]))?;
            ids.push(tx.last_insert_rowid());
        }
    }
    tx.commit()?;
    Ok(ids)
}

fn writer(mut store: Store, mut jobs: mpsc::Receiver<Job>, per_deposit: bool) {
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
        store.commit(&mut group);
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
    // The sync PostgreSQL client must not run on a tokio worker: connect on a thread.
    let store = match args.database.clone() {
        Some(url) => std::thread::spawn(move || open_postgres(&url))
            .join()
            .map_err(|_| "the connecting thread panicked")??,
        None => Store::Sqlite(open(&args.data)?),
    };
    let (sender, receiver) = mpsc::channel(8192);
    let per_deposit = args.per_deposit;
    std::thread::spawn(move || writer(store, receiver, per_deposit));

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
