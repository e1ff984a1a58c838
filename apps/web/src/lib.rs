//! # satchel-web
//!
//! The reference Satchel app for teachers, parents and the school's office: a web server
//! on 127.0.0.1 over [`satchel_client`], used from a browser on the same machine
//! (`satchel app`). All keys, crypto and messages stay in this process; the browser only
//! renders server-made HTML (maud) with a vendored htmx for partial updates.
//!
//! * Screens ([`pages`]): unlock or choose a passphrase; join with an invite code (shown
//!   and confirmed before use) or create a school; the conversation list with unread
//!   counts; a conversation (person, class announcement, class group, the teachers of a
//!   class) with live updates; the directory by class with search; a person's safety
//!   number; the office's invites (with QR codes) and revocations; settings.
//! * Safety of a local server ([`security`]): the Host check, a per-launch token that
//!   becomes a cookie, the Origin check on every change, a strict CSP.
//! * Dutch and English ([`i18n`]), chosen by the browser or the footer's switch.
//!
//! ```no_run
//! # async fn run() -> Result<(), satchel_web::WebError> {
//! let config = satchel_web::AppConfig::new("/home/ada/.local/share/satchel".into());
//! let app = satchel_web::start(config).await?;
//! println!("open {}", app.url());
//! app.run().await
//! # }
//! ```
#![forbid(unsafe_code)]

mod assets;
pub mod i18n;
mod live;
pub mod pages;
mod qr;
pub mod security;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use satchel_client::relay::TransportConfig;
use satchel_client::store::keyfile::KeySource;
use satchel_client::{ClientError, GroupKind};

use pages::conversation::{self, Thread};
pub use state::AppState;

/// How the app starts.
pub struct AppConfig {
    /// The profile folder.
    pub home: PathBuf,
    /// TLS settings for the relay.
    pub transport: TransportConfig,
    /// The port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Open the profile at start with this key (from `SATCHEL_PASSPHRASE`, or a
    /// terminal prompt); without it the page asks.
    pub key: Option<KeySource>,
    /// How often the app syncs with the relay.
    pub poll: Duration,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("home", &self.home)
            .field("port", &self.port)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// The default sync interval.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);

impl AppConfig {
    /// Defaults: any free port, the page asks for the passphrase, a sync every 500 ms.
    #[must_use]
    pub fn new(home: PathBuf) -> Self {
        Self {
            home,
            transport: TransportConfig::default(),
            port: 0,
            key: None,
            poll: DEFAULT_POLL,
        }
    }
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The port could not be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (choose another port with --port, or 0 for any)"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// No randomness for the launch token.
    #[error("the operating system gave no randomness for the launch token")]
    Random,
    /// The profile could not be opened with the key given.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server stopped with an error.
    #[error("the app's server stopped: {0}")]
    Serve(std::io::Error),
}

/// A started app: listening, not yet serving until [`App::run`].
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    state: AppState,
    url: String,
    poll: Duration,
}

impl App {
    /// The address to open, with the launch token (`http://127.0.0.1:PORT/?token=…`).
    /// Anyone with it can use the app while it runs: show it only to the person.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address without the token.
    #[must_use]
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.state.port())
    }

    /// Serves until the process ends.
    ///
    /// # Errors
    /// [`WebError::Serve`].
    pub async fn run(self) -> Result<(), WebError> {
        tokio::spawn(live::sync_loop(self.state.clone(), self.poll));
        axum::serve(self.listener, router(self.state))
            .await
            .map_err(WebError::Serve)
    }
}

/// Binds 127.0.0.1 and opens the profile if a key was given.
///
/// # Errors
/// [`WebError`].
pub async fn start(config: AppConfig) -> Result<App, WebError> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))
            .await
            .map_err(|source| WebError::Bind {
                port: config.port,
                source,
            })?;
    let port = listener
        .local_addr()
        .map_err(|source| WebError::Bind {
            port: config.port,
            source,
        })?
        .port();
    let token = security::LaunchToken::generate().map_err(|_| WebError::Random)?;
    let url = format!("http://127.0.0.1:{port}/?token={}", token.as_str());
    let state = AppState::new(config.home, config.transport, port, token);
    if let Some(key) = config.key {
        state.unlock(key).await?;
    }
    Ok(App {
        listener,
        state,
        url,
        poll: config.poll,
    })
}

/// Every route, behind the security guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home::start))
        .route("/list", get(pages::home::list_fragment))
        .route("/unlock", post(pages::setup::unlock))
        .route("/join/preview", post(pages::setup::join_preview))
        .route("/join", post(pages::setup::join))
        .route("/school/create", post(pages::setup::create_school))
        .route(
            "/p/{id}",
            get(|s, h, p| conversation::show(Thread::Person, s, h, p)),
        )
        .route(
            "/p/{id}/messages",
            get(|s, h, p| conversation::messages(Thread::Person, s, h, p)),
        )
        .route(
            "/p/{id}/send",
            post(|s, h, p, f| conversation::send(Thread::Person, s, h, p, f)),
        )
        .route(
            "/g/{id}",
            get(|s, h, p| conversation::show(Thread::Group, s, h, p)),
        )
        .route(
            "/g/{id}/messages",
            get(|s, h, p| conversation::messages(Thread::Group, s, h, p)),
        )
        .route(
            "/g/{id}/send",
            post(|s, h, p, f| conversation::send(Thread::Group, s, h, p, f)),
        )
        .route(
            "/team",
            post(|s, h, f| conversation::post_to_class(GroupKind::TeamThread, s, h, f)),
        )
        .route(
            "/announce",
            post(|s, h, f| conversation::post_to_class(GroupKind::Announcement, s, h, f)),
        )
        .route("/groups/create", post(conversation::create_group))
        .route("/retry", post(conversation::retry))
        .route("/people", get(pages::people::list))
        .route("/people/{id}", get(pages::people::person))
        .route("/school", get(pages::school::show))
        .route("/school/invite", post(pages::school::invite))
        .route("/school/revoke", post(pages::school::revoke))
        .route("/settings", get(pages::settings::show))
        .route(
            "/settings/read-receipts",
            post(pages::settings::read_receipts),
        )
        .route("/settings/lang", post(pages::settings::language))
        .route("/events", get(live::events))
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_vendored_htmx_is_the_one_checked_in() {
        use sha2::Digest as _;
        let digest = hex::encode(sha2::Sha256::digest(crate::assets::HTMX.as_bytes()));
        assert!(
            crate::assets::HTMX_SHA256.starts_with(&digest),
            "assets/htmx.min.js changed: vendor a release and update its .sha256"
        );
    }
}
