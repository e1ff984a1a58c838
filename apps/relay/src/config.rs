//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The default request rate per client network.
pub const DEFAULT_RATE_LIMIT: u32 = 200;
/// The default limit on connections held at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8_192;
/// The default limit on connections from one client network.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;

/// Satchel relay: stores and forwards end-to-end encrypted mail for a school.
///
/// The relay only ever sees ciphertext and public keys. It keeps its data in one SQLite
/// database inside the data folder; back up that folder while the relay is stopped, or
/// with `sqlite3 relay.sqlite3 ".backup copy.sqlite3"` while it runs.
///
/// When it is ready it prints `listening on ADDRESS` on standard output. Logs go to
/// standard error and never contain addresses, ids or message contents. Stop it with
/// Ctrl-C or SIGTERM: it finishes the requests in progress, then exits.
#[derive(Clone, Debug, Parser)]
#[command(name = "satchel-relay", version, about, long_about)]
pub struct Config {
    /// Address and port to listen on. Use 0.0.0.0:443 with --tls-cert and --tls-key to
    /// accept connections from other machines (or put a TLS reverse proxy in front);
    /// port 0 picks a free port, which is then printed.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,

    /// Folder for the relay's database. It is created if missing and should only be
    /// readable by the relay's user.
    #[arg(long, value_name = "DIR", default_value = "./satchel-relay-data")]
    pub data: PathBuf,

    /// A PostgreSQL database to use instead of the SQLite file in --data, as a URL:
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (libpq's options such as
    /// `?connect_timeout=5` work). Several relays may share one database. Prefer the
    /// environment variable: command lines are visible to other users.
    #[arg(long, value_name = "URL", env = "SATCHEL_RELAY_DATABASE", hide_env_values = true,
          value_parser = parse_database_url)]
    pub database: Option<String>,

    /// The most undelivered messages one mailbox or conversation queue may hold. Further
    /// deposits are refused (HTTP 429) until the owner fetches and acknowledges.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub queue_max_messages: u64,

    /// The most bytes of undelivered messages one queue may hold (default 64 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub queue_max_bytes: u64,

    /// First messages one client network (an IPv4 address or an IPv6 /64) may deposit
    /// into one person's contact mailbox per hour, so that nobody can fill a mailbox and
    /// block others' first messages. Over it: HTTP 429, and the app retries later.
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub mailbox_deposits_per_hour: u32,

    /// First messages one client network may deposit into one contact mailbox at once,
    /// before --mailbox-deposits-per-hour applies.
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub mailbox_deposit_burst: u32,

    /// Undelivered messages older than this many days are deleted (checked hourly).
    /// Expired invites are deleted at the same time.
    #[arg(long, value_name = "DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub max_age_days: u32,

    /// Requests per second allowed from one client network (an IPv4 address or an IPv6
    /// /64), across all its connections; bursts of twice this are allowed. Clients that
    /// exceed it get HTTP 429 and retry. Behind a reverse proxy every client has the
    /// proxy's address: raise this and let the proxy limit each client.
    #[arg(long, value_name = "PER_SECOND", default_value_t = DEFAULT_RATE_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,

    /// The most connections the relay holds at once. Further connections are closed
    /// as soon as they are accepted. Keep the open-file limit (`ulimit -n`,
    /// systemd's `LimitNOFILE=`) above this.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,

    /// The most connections one client network (an IPv4 address or an IPv6 /64) holds
    /// at once; an app holds one or two. Behind a reverse proxy every client has the
    /// proxy's address: raise this to --max-connections there.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections_per_address: usize,

    /// MiB of large answers (pages of fetched messages) that all clients together may
    /// leave unread: past it such fetches get 503 until answers drain. The kernel takes
    /// 256 KiB per connection; the rest waits in the relay's memory.
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 20))]
    pub max_unread_answers_mib: usize,

    /// MiB of large answers one client network may leave unread (about eleven full
    /// pages per 16 MiB): past it its fetches get 429 until it reads them. Behind a
    /// reverse proxy every client has the proxy's address: raise this there.
    #[arg(long, value_name = "MIB", default_value_t = 16,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 20))]
    pub max_unread_answers_mib_per_address: usize,

    /// Seconds a client may take to send a request's headers; a connection that sits
    /// idle this long between requests is closed too (slow-header attacks).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Seconds a connection may go without a byte moving either way before it is
    /// closed (a client that stops reading, a stalled upload). WebSocket push stays
    /// open: the relay pings it every 30 seconds, so keep this above 30.
    #[arg(long, value_name = "SECONDS", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(31..=3600))]
    pub idle_timeout: u64,

    /// Signed requests remembered to refuse replays (each for the 10 minutes its
    /// timestamp stays valid; about 90 bytes each). When full, signed requests get 503
    /// until entries expire.
    #[arg(long, value_name = "ENTRIES", default_value_t = crate::replay::DEFAULT_CAPACITY,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1_000..))]
    pub replay_cache_entries: usize,

    /// The token a school's administrator must present to register a new school on
    /// this relay (at least 16 printable characters, e.g. from `openssl rand -hex 16`).
    /// Without it the relay registers no new schools; schools it has keep working.
    /// Prefer the environment variable: command lines are visible to other users.
    #[arg(long, value_name = "TOKEN", env = "SATCHEL_RELAY_REGISTRATION_TOKEN",
          hide_env_values = true, value_parser = crate::registration::parse)]
    pub registration_token: Option<crate::registration::RegistrationToken>,
    /// One-time prekeys one member may take per hour (each starts a conversation with
    /// forward secrecy for its first message). Over it: HTTP 429, and the member's app
    /// starts the conversation without a one-time prekey.
    #[arg(long, value_name = "N", default_value_t = crate::http::take_limit::DEFAULT_TAKES_PER_HOUR,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub prekey_takes_per_hour: u32,

    /// One-time prekeys one member may take at once before --prekey-takes-per-hour
    /// applies.
    #[arg(long, value_name = "N", default_value_t = crate::http::take_limit::DEFAULT_TAKE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub prekey_take_burst: u32,

    /// Serve Prometheus metrics (`/metrics`) and `/healthz` on this separate address,
    /// e.g. 127.0.0.1:9464. Off by default, so metrics are never exposed with the API.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Check the configuration and exit: the flags, the TLS files, that the listen
    /// address can be bound, and that the database answers with a schema this relay
    /// knows. Serves nothing and changes nothing; exits 1 with the reason if a check
    /// fails.
    #[arg(long)]
    pub check_config: bool,

    /// What to log, e.g. `info`, `warn`, or `debug` to log every request (method, route,
    /// status, duration). Uses tracing's filter syntax.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log: String,
}

impl Config {
    /// A configuration for tests and embedding: the defaults, with the given address and
    /// data folder.
    #[must_use]
    pub fn new(listen: SocketAddr, data: PathBuf) -> Self {
        Self {
            listen,
            data,
            database: None,
            queue_max_messages: 10_000,
            queue_max_bytes: 64 * 1024 * 1024,
            max_age_days: 30,
            mailbox_deposits_per_hour: 500,
            mailbox_deposit_burst: 500,
            rate_limit: DEFAULT_RATE_LIMIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_unread_answers_mib: 256,
            max_unread_answers_mib_per_address: 16,
            header_timeout: 30,
            idle_timeout: 75,
            replay_cache_entries: crate::replay::DEFAULT_CAPACITY,
            registration_token: None,
            prekey_takes_per_hour: crate::http::take_limit::DEFAULT_TAKES_PER_HOUR,
            prekey_take_burst: crate::http::take_limit::DEFAULT_TAKE_BURST,
            metrics_listen: None,
            check_config: false,
            log: "info".to_owned(),
        }
    }
}

/// Accepts `postgres://` and `postgresql://` URLs (checked fully when connecting).
fn parse_database_url(url: &str) -> Result<String, String> {
    if crate::store::postgres::is_postgres_url(url) {
        Ok(url.to_owned())
    } else {
        Err(
            "expected a postgres:// URL; without --database the relay uses SQLite in --data"
                .to_owned(),
        )
    }
}
