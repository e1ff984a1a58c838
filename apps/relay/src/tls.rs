//! TLS termination by the relay itself: `--tls-cert` and `--tls-key` (PEM files).
//!
//! Without them the relay speaks plain HTTP, which is only meant for a relay behind a
//! TLS reverse proxy or for tests on 127.0.0.1 (clients refuse `http://` to any other
//! host). With them, [`TlsListener`] accepts TCP connections, runs the TLS handshakes
//! concurrently (each bounded by [`HANDSHAKE_TIMEOUT`], at most
//! [`MAX_PENDING_HANDSHAKES`] at a time) and hands finished TLS streams to the same
//! axum server, so graceful shutdown, the per-connection rate limit and WebSocket push
//! work exactly as over plain HTTP.
//!
//! The crypto provider is rustls' `ring` provider, the same one the client uses.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::limits::{ConnectionBudget, NoDelayListener};

/// How long a client may take to complete the TLS handshake before it is disconnected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most TLS handshakes in progress at once; further connections wait in the
/// listen backlog.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// The TLS command-line options: both or neither.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate (PEM: the relay's certificate first, then any
    /// intermediate certificates). Requires --tls-key. Without both, the relay serves
    /// plain HTTP, which clients only accept on 127.0.0.1/localhost: put a TLS reverse
    /// proxy in front of it or use these options.
    #[arg(
        long,
        value_name = "PATH",
        env = "SATCHEL_RELAY_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM, unencrypted: PKCS#8, RSA or EC). Keep it
    /// readable only by the relay's user.
    #[arg(
        long,
        value_name = "PATH",
        env = "SATCHEL_RELAY_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// Loads the certificate and key if both are given; `None` for plain HTTP.
    ///
    /// # Errors
    /// [`TlsError`] naming the file and what is wrong with it; also if only one of the
    /// two files is given (clap already refuses that on the command line).
    pub fn load(&self) -> Result<Option<TlsConfig>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsConfig::from_pem_files(cert, key).map(Some),
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => Err(TlsError::Incomplete),
        }
    }
}

/// Why the TLS certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Only one of `--tls-cert` and `--tls-key` was given.
    #[error("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")]
    Incomplete,
    /// A file could not be read.
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("the TLS {what} file {} is not valid PEM: {reason}", path.display())]
    Pem {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM parser found.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error(
        "the TLS certificate file {} contains no certificate: it must be PEM with \
         -----BEGIN CERTIFICATE----- blocks (the relay's certificate first, then \
         intermediates)",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no (unencrypted) private key.
    #[error(
        "the TLS key file {} contains no private key: it must be an unencrypted PEM key \
         (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key does not belong to the certificate.
    #[error(
        "the private key in {} does not belong to the certificate in {}: check that \
         the two files are a pair",
        key.display(),
        cert.display()
    )]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or the key for another reason (unsupported key
    /// type, malformed certificate).
    #[error(
        "cannot use the TLS certificate {} with the key {}: {reason}",
        cert.display(),
        key.display()
    )]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' explanation.
        reason: String,
    },
}

/// A loaded certificate and key: the relay's rustls server configuration.
#[derive(Clone)]
pub struct TlsConfig(Arc<ServerConfig>);

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Loads a PEM certificate chain and its PEM private key, and checks that they are a
    /// pair. Offers HTTP/1.1 over ALPN (WebSocket upgrades need it).
    ///
    /// # Errors
    /// [`TlsError`] naming the file and the problem.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = read_certificates(cert)?;
        let private_key = read_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let unusable = |error: rustls::Error| match error {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: cert.to_owned(),
                    key: key.to_owned(),
                }
            }
            other => TlsError::Unusable {
                cert: cert.to_owned(),
                key: key.to_owned(),
                reason: other.to_string(),
            },
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(unusable)?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(unusable)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self(Arc::new(config)))
    }

    /// Uses a rustls configuration built by the embedding application.
    #[must_use]
    pub fn from_server_config(config: Arc<ServerConfig>) -> Self {
        Self(config)
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(what: &'static str, path: &Path, error: &pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file("certificate", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", path, &e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        other => pem_error("key", path, &other),
    })
}

/// A listener that accepts TCP connections (with `TCP_NODELAY`), completes their TLS
/// handshakes in the background and yields the TLS streams. Handshakes that fail or
/// time out are logged at debug level and dropped; they never reach the router.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener`; stops when `stop` turns `true` or the returned
    /// listener is dropped.
    ///
    /// # Errors
    /// If the listener's local address cannot be read.
    pub fn spawn(
        listener: NoDelayListener,
        config: &TlsConfig,
        stop: watch::Receiver<bool>,
    ) -> io::Result<Self> {
        let local_addr = listener.0.local_addr()?;
        let (ready_tx, ready) = mpsc::channel(MAX_PENDING_HANDSHAKES);
        let acceptor = TlsAcceptor::from(Arc::clone(&config.0));
        tokio::spawn(accept_loop(listener, acceptor, ready_tx, stop));
        Ok(Self { ready, local_addr })
    }
}

async fn accept_loop(
    mut listener: NoDelayListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let mut handshakes = JoinSet::new();
    loop {
        // Reap finished handshake tasks so the set does not grow.
        while handshakes.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            () = ready.closed() => break,
            accepted = async {
                let permit = Arc::clone(&permits).acquire_owned().await;
                (permit, Listener::accept(&mut listener).await)
            } => accepted,
        };
        let (Ok(permit), (tcp, addr)) = accepted else {
            break;
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        handshakes.spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, addr)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
    // Dropping the set aborts handshakes still in progress.
    drop(handshakes);
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop stopped (shutdown): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ConnectionBudget {
    fn connect_info(_stream: IncomingStream<'_, TlsListener>) -> Self {
        Self::default()
    }
}
