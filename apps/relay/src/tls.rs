//! TLS termination by the relay itself: `--tls-cert` and `--tls-key` (PEM files).
//!
//! Without them the relay speaks plain HTTP, which is only meant for a relay behind a
//! TLS reverse proxy or for tests on 127.0.0.1 (clients refuse `http://` to any other
//! host). With them, the connection layer ([`crate::server`]) runs each admitted
//! connection's TLS handshake (bounded in time and in how many run at once) and serves
//! the same router over the TLS stream, so limits, graceful shutdown and WebSocket push
//! work exactly as over plain HTTP.
//!
//! The crypto provider is rustls' `ring` provider, the same one the client uses.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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

    /// The rustls configuration.
    #[must_use]
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.0)
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
