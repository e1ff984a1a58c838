//! The relay transport: one typed method per relay endpoint (`docs/RELAY_API.md`), with
//! request signing. Async (reqwest on tokio); errors say what to do.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use satchel_core::os_rng;
use satchel_core::relay_request::{RelayRequest, RequestKey};
use satchel_core::school::{
    Authority, EntryId, Invite, JoinKeys, RevocationList, SchoolAuthority, SchoolId, SchoolRoot,
};
use satchel_core::{BundleError, BundleId, Envelope, QueueKeys, SignedOneTimePrekey};
pub use satchel_relay_api::ErrorCode;
use satchel_relay_api::{
    AUTH_HEADER, AckRequest, Admission, AdmissionRequest, AdmissionResponse, AuthValue,
    CreateQueueRequest, CreatedQueue, Deposited, DirectoryEntryPut, DirectoryList, ErrorBody,
    FetchResponse, InviteResponse, KEY_HEADER, MAX_PENDING_IDS, OFFICE_HEADER, PendingAdmissions,
    PendingResponse, PrekeyCount, PrekeyUpload, PutAdmissionsRequest, PutAdmissionsResponse,
    PutDirectoryEntryRequest, PutInviteRequest, PutRevocationsRequest, REGISTRATION_HEADER,
    RedeemInviteRequest, RedeemInviteResponse, RegisterSchoolRequest, RegisterSchoolResponse,
    Revocations, RevokeMembersRequest, RevokeMembersResponse, TakenPrekey, UploadedPrekey, paths,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Talking to the relay failed.
///
/// No variant's message contains the relay's full URL (paths carry school and queue
/// ids); the address the person typed is only repeated by [`RelayError::InvalidUrl`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The relay could not be reached, the connection broke, or the answer was
    /// unreadable. The message says what failed (host name lookup, refused connection,
    /// timeout, TLS); [`RelayError::network_failure`] tells it to programs. An untrusted
    /// relay certificate is [`RelayError::Certificate`] instead.
    #[error("cannot reach the relay: {}", NetworkFailure::of(.0).describe(.0))]
    Network(reqwest::Error),
    /// The relay's TLS certificate was not accepted: issued by an authority this device
    /// does not trust, made out for another host name, expired, or otherwise invalid.
    /// Retrying does not help.
    #[error("{}", problem.describe(detail))]
    Certificate {
        /// What is wrong with the certificate.
        problem: CertificateProblem,
        /// rustls' description of the failure, for logs and bug reports.
        detail: String,
    },
    /// The relay refused the request; `message` is the relay's explanation.
    #[error("the relay refused the request ({code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The relay's machine-readable code, e.g. [`ErrorCode::InviteUsed`]
        /// ([`ErrorCode::Other`] for a code this build does not know, or no JSON body).
        code: ErrorCode,
        /// The relay's sentence for people.
        message: String,
    },
    /// The relay address is not an `http://` or `https://` URL.
    #[error("the relay address {0:?} is not an http:// or https:// address: check it")]
    InvalidUrl(String),
    /// The relay address uses `http://` for a host other than a loopback address
    /// (127.0.0.0/8, `[::1]`, `localhost`). Refused before any request is sent.
    #[error(
        "the relay address uses http://, which is not encrypted; use https:// (http is only allowed for 127.0.0.1/localhost test relays)"
    )]
    InsecureUrl {
        /// The host of the refused address.
        host: String,
    },
    /// The extra certificate authority ([`TransportConfig::extra_ca_pem`]) cannot be
    /// read or is not a PEM certificate.
    #[error(
        "cannot use the certificate authority file {origin}: {reason}; it must hold your school's CA certificate in PEM form (-----BEGIN CERTIFICATE-----)"
    )]
    CaCertificate {
        /// The file name, or `extra_ca_pem` when the bytes were given directly.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The relay answered with something this client does not understand.
    #[error(
        "the relay sent an unexpected answer ({0}): is this a Satchel relay of a compatible version?"
    )]
    Unexpected(&'static str),
}

impl RelayError {
    /// The relay's error code, if it refused the request.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RelayError::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the same request may succeed later by itself: no network, a busy,
    /// rate-limiting or restarting relay. Then an outbox keeps what it holds.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            RelayError::Rejected { status, code, .. } => code.is_transient() || *status >= 500,
            RelayError::Network(_) => true,
            _ => false,
        }
    }

    /// What failed, for [`RelayError::Network`].
    #[must_use]
    pub fn network_failure(&self) -> Option<NetworkFailure> {
        match self {
            RelayError::Network(error) => Some(NetworkFailure::of(error)),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for RelayError {
    /// Sorts a transport error into [`RelayError::Certificate`] or
    /// [`RelayError::Network`], dropping the request URL from it.
    fn from(error: reqwest::Error) -> Self {
        let error = error.without_url();
        let certificate = rustls_error(&error).and_then(|e| match e {
            rustls::Error::InvalidCertificate(problem) => {
                Some((CertificateProblem::of(problem), e.to_string()))
            }
            _ => None,
        });
        match certificate {
            Some((problem, detail)) => RelayError::Certificate { problem, detail },
            None => RelayError::Network(error),
        }
    }
}

/// What went wrong with the relay's certificate ([`RelayError::Certificate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Issued by a certificate authority this device does not trust (or self-signed,
    /// or signed by another CA of the same name as a trusted one): a school with its
    /// own CA passes it in [`TransportConfig::extra_ca_pem`].
    UnknownIssuer,
    /// Valid, but for another host name than the one in the relay address.
    WrongHost,
    /// Expired, or this device's clock is wrong.
    Expired,
    /// Not valid yet, or this device's clock is wrong.
    NotYetValid,
    /// Revoked by its issuer.
    Revoked,
    /// Malformed, unsupported or otherwise invalid.
    Invalid,
}

impl CertificateProblem {
    fn of(error: &rustls::CertificateError) -> Self {
        use rustls::CertificateError as E;
        match error {
            // A bad signature from a trusted CA's name: another CA of the same name.
            E::UnknownIssuer | E::BadSignature => Self::UnknownIssuer,
            E::NotValidForName | E::NotValidForNameContext { .. } => Self::WrongHost,
            E::Expired | E::ExpiredContext { .. } => Self::Expired,
            E::NotValidYet | E::NotValidYetContext { .. } => Self::NotYetValid,
            E::Revoked => Self::Revoked,
            _ => Self::Invalid,
        }
    }

    fn describe(self, detail: &str) -> String {
        const CA_FILE: &str = "if your school uses its own certificate authority, pass its \
                               certificate with --ca-file";
        match self {
            Self::UnknownIssuer => format!(
                "the relay's certificate is not trusted: it was issued by a certificate \
                 authority this device does not know. {}; otherwise check the relay address",
                capitalised(CA_FILE)
            ),
            Self::WrongHost => "the relay's certificate is not valid for this relay's host \
                                name: check the relay address (it must be the name the \
                                certificate was made out for); if it is right, the relay \
                                needs a certificate for that name"
                .to_owned(),
            Self::Expired => "the relay's certificate has expired (or this device's date and \
                              time are wrong): check the clock, otherwise ask whoever runs \
                              the relay to renew the certificate"
                .to_owned(),
            Self::NotYetValid => "the relay's certificate is not valid yet: check this \
                                  device's date and time"
                .to_owned(),
            Self::Revoked => "the relay's certificate has been revoked by its issuer: ask \
                              whoever runs the relay"
                .to_owned(),
            Self::Invalid => format!(
                "the relay's certificate is not trusted ({detail}): ask whoever runs the \
                 relay to check its certificate; {CA_FILE}"
            ),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What failed when the relay could not be reached ([`RelayError::Network`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkFailure {
    /// The relay's host name could not be looked up.
    Dns,
    /// Nothing accepts connections on that address and port.
    Refused,
    /// No answer in time (connecting or waiting for the answer).
    Timeout,
    /// The TLS handshake failed for a reason other than the certificate (e.g. the
    /// server does not speak TLS on that port).
    Tls,
    /// Connecting failed otherwise (network unreachable, connection reset).
    Connect,
    /// The connection broke during the request, or the answer could not be read.
    Other,
}

impl NetworkFailure {
    fn of(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        if rustls_error(error).is_some() {
            return Self::Tls;
        }
        let mut refused = false;
        let mut dns = false;
        for cause in causes(error) {
            if cause.to_string() == "dns error" {
                dns = true;
            }
            if cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
            {
                refused = true;
            }
        }
        if dns {
            Self::Dns
        } else if refused {
            Self::Refused
        } else if error.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }

    fn describe(self, error: &reqwest::Error) -> String {
        let cause = causes(error)
            .last()
            .map(ToString::to_string)
            .unwrap_or_default();
        match self {
            Self::Dns => "the relay's host name could not be found (DNS): check the relay \
                          address and the network connection"
                .to_owned(),
            Self::Refused => "the connection was refused: no relay is running on that \
                              address and port, or a firewall blocks it; check the relay \
                              address"
                .to_owned(),
            Self::Timeout => "the relay did not answer in time: check the network \
                              connection, then try again"
                .to_owned(),
            Self::Tls => format!(
                "the secure connection (TLS) failed ({cause}): check that the address is \
                 the relay's https:// address"
            ),
            Self::Connect => format!(
                "cannot connect ({cause}): check the network connection and the relay \
                 address, then try again"
            ),
            Self::Other => format!("{cause}: check the network connection, then try again"),
        }
    }
}

/// `error` and its causes, outermost first. `io::Error` hides a wrapped error from
/// `source()`, so it is unwrapped here.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => std::error::Error::source(io),
            },
            None => current.source(),
        };
        Some(current)
    })
}

/// The rustls error behind a transport error, if the TLS layer failed.
fn rustls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    causes(error).find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// How [`RelayClient`] connects: which certificate authorities it trusts besides the
/// public web roots (Mozilla's list, built in; the system store is not used).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TransportConfig {
    /// One or more PEM certificates (`-----BEGIN CERTIFICATE-----`) of a certificate
    /// authority to trust in addition to the public roots: for a school that issues the
    /// relay's certificate from its own PKI. `None` trusts the public roots only.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Where `extra_ca_pem` came from (e.g. the file name), named in errors.
    pub extra_ca_origin: Option<String>,
}

impl TransportConfig {
    /// Trusts the certificate authority in `pem` (PEM certificates) as well.
    #[must_use]
    pub fn with_extra_ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        Self {
            extra_ca_pem: Some(pem.into()),
            extra_ca_origin: None,
        }
    }

    /// Trusts the certificate authority in the PEM file at `path` as well; the file is
    /// read now and checked by [`RelayClient::with_config`].
    ///
    /// # Errors
    /// [`RelayError::CaCertificate`] if the file cannot be read.
    pub fn with_ca_file(path: impl AsRef<std::path::Path>) -> Result<Self, RelayError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let pem = std::fs::read(path).map_err(|error| RelayError::CaCertificate {
            origin: origin.clone(),
            reason: format!("cannot read it: {error}"),
        })?;
        Ok(Self {
            extra_ca_pem: Some(pem),
            extra_ca_origin: Some(origin),
        })
    }

    fn ca_error(&self, reason: impl Into<String>) -> RelayError {
        RelayError::CaCertificate {
            origin: self
                .extra_ca_origin
                .clone()
                .unwrap_or_else(|| "extra_ca_pem".to_owned()),
            reason: reason.into(),
        }
    }
}

/// Checks `base_url`: an `http://` or `https://` URL with a host, and `http://` only
/// for loopback hosts.
fn check_relay_url(base_url: &str) -> Result<(), RelayError> {
    let invalid = || RelayError::InvalidUrl(base_url.to_owned());
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"));
    if rest.is_none_or(|h| h.trim_end_matches('/').is_empty() || h.contains(char::is_whitespace)) {
        return Err(invalid());
    }
    // The same parser reqwest uses, so the host checked is the host connected to.
    let url = reqwest::Url::parse(base_url).map_err(|_| invalid())?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(invalid)?;
    if url.scheme() == "http" {
        // The parser normalises IPv4 forms (`127.1`) and brackets IPv6 hosts.
        let loopback = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>()
                .is_ok_and(|ip| ip.is_loopback())
        } else if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
            v4.is_loopback()
        } else {
            host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.")
        };
        if !loopback {
            return Err(RelayError::InsecureUrl {
                host: host.to_owned(),
            });
        }
    }
    Ok(())
}

/// How many times a request the relay rate-limited is sent again.
const RATE_LIMIT_RETRIES: u32 = 3;
/// The longest `Retry-After` (seconds) the client waits for by itself; a longer one is
/// returned as an error.
const MAX_RETRY_WAIT_SECONDS: u64 = 5;
/// How long an idle connection is kept for reuse: below the relay's header timeout
/// (30 s by default), so the relay never closes a connection the client is about to
/// reuse.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(20);

/// The error for a request the relay still rate-limits after the retries.
fn rate_limited() -> RelayError {
    RelayError::Rejected {
        status: StatusCode::TOO_MANY_REQUESTS.as_u16(),
        code: ErrorCode::RateLimited,
        message: "the relay is busy: too many requests; try again in a minute".into(),
    }
}

/// One attempt's outcome when it failed.
enum Retry {
    /// Rate-limited: try again after this long.
    After(std::time::Duration),
    /// The relay closed the connection before answering (it does so to a network it
    /// rate-limits, and an idle connection may close just as a request goes out): try
    /// again on a new connection after a short pause. A relay that cannot be reached at
    /// all is not retried.
    Reconnect(RelayError),
    /// Any other failure.
    No(RelayError),
}

/// Who signs a request.
enum Signer<'a> {
    None,
    /// The root or an office, for requests only the school may make.
    School(&'a SchoolAuthority),
    /// The root, registering its school with the operator's token (if any).
    Registration(&'a SchoolRoot, Option<&'a str>),
    Join(&'a JoinKeys),
    Key(&'a RequestKey),
    Queue(&'a QueueKeys),
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JSON bytes of a request body.
fn json_bytes(body: &impl Serialize) -> Vec<u8> {
    // Cannot fail: the bodies are structs of strings, numbers and lists.
    serde_json::to_vec(body).unwrap_or_default()
}

/// Parses a JSON answer.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RelayError> {
    serde_json::from_slice(bytes).map_err(|_| RelayError::Unexpected("json"))
}

/// Decodes a base64url (no padding) field of an answer.
fn unb64(text: &str, field: &'static str) -> Result<Vec<u8>, RelayError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| RelayError::Unexpected(field))
}

/// Decodes a 16-byte id given as hex in an answer.
fn unhex16(text: &str, field: &'static str) -> Result<[u8; 16], RelayError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(RelayError::Unexpected(field))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An admission as the relay hands it to the member (unverified: the member checks it
/// under the school root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAdmission {
    /// The signature.
    pub signature: [u8; 64],
    /// The office that signed it (its encoded certificate); `None`: the root.
    pub issuer: Option<Vec<u8>>,
}

/// A member waiting to be admitted, as the relay lists it (nothing here is trusted:
/// the admin's app verifies the certificate and compares it with what it issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingMember {
    /// The member key that redeemed the invite.
    pub member_key: [u8; 32],
    /// The grant key of the redeemed invite, as the relay recorded it.
    pub grant_key: [u8; 32],
    /// The certificate the member handed in, sealed under the directory key.
    pub sealed_certificate: Vec<u8>,
}

/// One fetched envelope.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The relay's id for it (acknowledge with this).
    pub id: u64,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

/// One page of a queue.
#[derive(Debug, Clone)]
pub struct FetchedPage {
    /// Oldest first.
    pub messages: Vec<Fetched>,
    /// Whether more wait after the last one (fetch again after its id).
    pub more: bool,
}

/// What taking a one-time prekey gave.
#[derive(Debug, Clone)]
pub enum PrekeyTake {
    /// A key with a signature (verify it before use).
    Taken(SignedOneTimePrekey),
    /// A key that cannot be used: no signature, or a malformed one.
    Invalid(BundleError),
    /// The bundle has none left.
    NoneLeft,
}

/// A client for one relay.
#[derive(Debug, Clone)]
pub struct RelayClient {
    base: String,
    http: reqwest::Client,
}

impl RelayClient {
    /// A client for the relay at `base_url` (e.g. `https://relay.school.example` or, for
    /// a test relay, `http://127.0.0.1:7878`) trusting the public web roots: the same as
    /// [`RelayClient::with_config`] with [`TransportConfig::default`].
    ///
    /// # Errors
    /// As [`RelayClient::with_config`].
    pub fn new(base_url: &str) -> Result<Self, RelayError> {
        Self::with_config(base_url, &TransportConfig::default())
    }

    /// A client for the relay at `base_url` that trusts the public web roots and, if
    /// `config` has one, the school's own certificate authority. Nothing is sent yet.
    ///
    /// `https://` is required, except `http://` to a loopback address (127.0.0.0/8,
    /// `[::1]`, `localhost`) for test relays on the same machine.
    ///
    /// # Errors
    /// [`RelayError::InvalidUrl`] unless `base_url` is an `http://` or `https://`
    /// address; [`RelayError::InsecureUrl`] for `http://` to any other host;
    /// [`RelayError::CaCertificate`] if `config.extra_ca_pem` holds no usable PEM
    /// certificate; [`RelayError::Network`] if the HTTP client cannot be built.
    pub fn with_config(base_url: &str, config: &TransportConfig) -> Result<Self, RelayError> {
        check_relay_url(base_url)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .pool_idle_timeout(POOL_IDLE)
            // Requests carry signatures over the path: never follow a redirect.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.extra_ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| config.ca_error("it is not valid PEM"))?;
            if certificates.is_empty() {
                return Err(config.ca_error("it contains no certificate"));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|error| {
            if config.extra_ca_pem.is_some() {
                let reason = causes(&error)
                    .last()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let reason = reason
                    .strip_prefix("invalid peer certificate: ")
                    .unwrap_or(&reason);
                config.ca_error(format!("it is not a usable CA certificate ({reason})"))
            } else {
                RelayError::from(error)
            }
        })?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Sends a request; when the relay says "too many requests" with a short
    /// `Retry-After`, waits and sends it again (freshly signed), up to
    /// [`RATE_LIMIT_RETRIES`] times.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        json_body: bool,
        signer: Signer<'_>,
    ) -> Result<(StatusCode, Vec<u8>), RelayError> {
        let mut attempt = 0;
        loop {
            match self
                .call_once(method.clone(), path, body.clone(), json_body, &signer)
                .await
            {
                Err(Retry::After(wait)) if attempt < RATE_LIMIT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(Retry::After(_)) => return Err(rate_limited()),
                Err(Retry::Reconnect(_)) if attempt < RATE_LIMIT_RETRIES => {
                    attempt += 1;
                    // 1, 2, 4 s: long enough for a rate-limited network's debt to clear.
                    tokio::time::sleep(std::time::Duration::from_secs(1 << (attempt - 1))).await;
                }
                Err(Retry::Reconnect(error)) => return Err(error),
                Err(Retry::No(error)) => return Err(error),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        json_body: bool,
        signer: &Signer<'_>,
    ) -> Result<(StatusCode, Vec<u8>), Retry> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        // A fresh nonce per request: the relay accepts each signed request only once.
        let signed = RelayRequest::new(method.as_str(), path, now(), &body, &mut os_rng());
        let signature = match &signer {
            Signer::None => None,
            Signer::Registration(root, _) => Some(root.sign_request(&signed)),
            Signer::School(SchoolAuthority::Root(root)) => Some(root.sign_request(&signed)),
            Signer::School(SchoolAuthority::Office(office)) => Some(office.sign_request(&signed)),
            Signer::Join(keys) => Some(keys.sign_request(&signed)),
            Signer::Key(key) => Some(key.sign_request(&signed)),
            Signer::Queue(queue) => Some(queue.prove(&signed.message())),
        };
        if let Some(signature) = signature {
            let value = AuthValue {
                timestamp: signed.timestamp,
                nonce: signed.nonce,
                signature,
            };
            request = request.header(AUTH_HEADER, value.to_header());
        }
        if let Signer::Key(key) = *signer {
            // Tells the relay which member key signed (directory writes).
            request = request.header(KEY_HEADER, b64(&key.public()));
        }
        if let Signer::School(SchoolAuthority::Office(office)) = *signer {
            // The relay checks the office's certificate before accepting its signature.
            request = request.header(OFFICE_HEADER, b64(&office.certificate().to_bytes()));
        }
        if let Signer::Registration(_, Some(token)) = *signer {
            request = request.header(REGISTRATION_HEADER, token);
        }
        let content_type = if json_body {
            "application/json"
        } else {
            "application/octet-stream"
        };
        let response = request
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_request() && !e.is_connect() && !e.is_timeout() {
                    Retry::Reconnect(e.into())
                } else {
                    Retry::No(e.into())
                }
            })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .filter(|seconds| *seconds <= MAX_RETRY_WAIT_SECONDS);
            if let Some(seconds) = wait {
                return Err(Retry::After(std::time::Duration::from_secs(seconds.max(1))));
            }
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Retry::No(e.into()))?
            .to_vec();
        if status.is_success() {
            return Ok((status, bytes));
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(Retry::No(match parsed {
            Some(body) => RelayError::Rejected {
                status: status.as_u16(),
                code: body.error,
                message: body.message,
            },
            None => RelayError::Rejected {
                status: status.as_u16(),
                code: ErrorCode::Other,
                message: status.canonical_reason().unwrap_or("error").into(),
            },
        }))
    }

    /// Sends a JSON request and reads the answer as `T`; an answer that does
    /// not parse is [`RelayError::Unexpected`].
    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        signer: Signer<'_>,
    ) -> Result<T, RelayError> {
        let (_, bytes) = self
            .call(method, path, json_bytes(body), true, signer)
            .await?;
        parse(&bytes)
    }

    /// Sends a request without a body and reads the answer as `T`.
    /// Like [`Self::call_empty`], but a rate-limited answer is returned at once instead
    /// of waited out (taking a one-time prekey: starting without one beats waiting).
    async fn call_empty_no_retry<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        signer: Signer<'_>,
    ) -> Result<T, RelayError> {
        match self
            .call_once(method, path, Vec::new(), true, &signer)
            .await
        {
            Ok((_, bytes)) => parse(&bytes),
            Err(Retry::After(_)) => Err(rate_limited()),
            Err(Retry::No(error) | Retry::Reconnect(error)) => Err(error),
        }
    }

    async fn call_empty<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        signer: Signer<'_>,
    ) -> Result<T, RelayError> {
        let (_, bytes) = self.call(method, path, Vec::new(), true, signer).await?;
        parse(&bytes)
    }

    /// Sends a JSON request to an endpoint that answers without a body.
    async fn call_json_no_content(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        signer: Signer<'_>,
    ) -> Result<(), RelayError> {
        self.call(method, path, json_bytes(body), true, signer)
            .await?;
        Ok(())
    }

    /// Registers the school (idempotent), with the relay operator's registration token
    /// (a relay registers new schools only with it; see `docs/RELAY_API.md`).
    ///
    /// # Errors
    /// [`RelayError`]; [`ErrorCode::RegistrationClosed`] or
    /// [`ErrorCode::BadRegistrationToken`] when the relay refuses to register it.
    pub async fn register_school(
        &self,
        root: &SchoolRoot,
        registration_token: Option<&str>,
    ) -> Result<(), RelayError> {
        let body = RegisterSchoolRequest {
            root_key: b64(root.public().as_bytes()),
        };
        let signer = Signer::Registration(root, registration_token);
        let _: RegisterSchoolResponse = self
            .call_json(Method::POST, paths::SCHOOLS, &body, signer)
            .await?;
        Ok(())
    }

    /// Uploads an invite's encrypted record.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_invite(
        &self,
        school: &SchoolAuthority,
        invite: &Invite,
        expires_at: u64,
    ) -> Result<(), RelayError> {
        let path = paths::invite(&school.school_id().to_hex(), &hex::encode(invite.lookup_id));
        let body = PutInviteRequest {
            record: b64(&invite.record),
            redeem_key: b64(&invite.redeem_key),
            // Past 2^63 seconds is as good as never.
            expires_at: i64::try_from(expires_at).unwrap_or(i64::MAX),
        };
        self.call_json_no_content(Method::PUT, &path, &body, Signer::School(school))
            .await
    }

    /// Deletes an invite's record (an unredeemed code then yields nothing).
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn delete_invite(
        &self,
        school: &SchoolAuthority,
        lookup_id: &[u8; 16],
    ) -> Result<(), RelayError> {
        let path = paths::invite(&school.school_id().to_hex(), &hex::encode(lookup_id));
        self.call(
            Method::DELETE,
            &path,
            Vec::new(),
            true,
            Signer::School(school),
        )
        .await?;
        Ok(())
    }

    /// Fetches an invite record: `(record, redeemed)`.
    ///
    /// # Errors
    /// [`RelayError`]; `not_found` if the code is unknown or expired.
    pub async fn get_invite(
        &self,
        school: &SchoolId,
        keys: &JoinKeys,
    ) -> Result<(Vec<u8>, bool), RelayError> {
        let path = paths::invite(&school.to_hex(), &hex::encode(keys.lookup_id()));
        let invite: InviteResponse = self.call_empty(Method::GET, &path, Signer::None).await?;
        Ok((unb64(&invite.record, "record")?, invite.redeemed))
    }

    /// Redeems an invite, allowing `member_key` to write one directory entry.
    ///
    /// # Errors
    /// [`RelayError`]; code `invite_used` if it was redeemed before.
    pub async fn redeem_invite(
        &self,
        school: &SchoolId,
        keys: &JoinKeys,
        member_key: &RequestKey,
    ) -> Result<(), RelayError> {
        let path = paths::invite_redeem(&school.to_hex(), &hex::encode(keys.lookup_id()));
        let body = RedeemInviteRequest {
            member_key: b64(&member_key.public()),
        };
        let _: RedeemInviteResponse = self
            .call_json(Method::POST, &path, &body, Signer::Join(keys))
            .await?;
        Ok(())
    }

    /// Publishes a revocation list.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_revocations(
        &self,
        school: &SchoolAuthority,
        list: &RevocationList,
    ) -> Result<(), RelayError> {
        let path = paths::revocations(&school.school_id().to_hex());
        let body = PutRevocationsRequest {
            list: b64(&list.to_bytes()),
            sequence: list.sequence(),
        };
        self.call_json_no_content(Method::PUT, &path, &body, Signer::School(school))
            .await
    }

    /// Tells the relay to stop accepting the member keys that redeemed these grants (by
    /// grant key, or by invite lookup id for a grant whose key the admin did not keep).
    /// Returns how many member keys it disabled.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn revoke_members(
        &self,
        school: &SchoolAuthority,
        grant_keys: &[[u8; 32]],
        invites: &[[u8; 16]],
    ) -> Result<u64, RelayError> {
        let path = paths::revoked_members(&school.school_id().to_hex());
        let body = RevokeMembersRequest {
            grant_keys: grant_keys.iter().map(|key| b64(key)).collect(),
            invites: invites.iter().map(hex::encode).collect(),
        };
        let answer: RevokeMembersResponse = self
            .call_json(Method::POST, &path, &body, Signer::School(school))
            .await?;
        Ok(answer.revoked)
    }

    /// The latest revocation list (unverified bytes), if any.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn get_revocations(&self, school: &SchoolId) -> Result<Option<Vec<u8>>, RelayError> {
        let path = paths::revocations(&school.to_hex());
        match self
            .call_empty::<Revocations>(Method::GET, &path, Signer::None)
            .await
        {
            Ok(revocations) => Ok(Some(unb64(&revocations.list, "list")?)),
            Err(RelayError::Rejected { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The latest revocation list (unverified bytes) if its sequence number is above
    /// `since` (the one this client has); `None` if it is not, or if the school has
    /// published none. The relay answers an unchanged list with an empty 304, so a sync
    /// without a new revocation costs a few hundred bytes however long the list is.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn get_revocations_since(
        &self,
        school: &SchoolId,
        since: u64,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let path = paths::revocations_since(&school.to_hex(), since);
        match self
            .call_empty::<Revocations>(Method::GET, &path, Signer::None)
            .await
        {
            Ok(revocations) => Ok(Some(unb64(&revocations.list, "list")?)),
            Err(RelayError::Rejected {
                status: 304 | 404, ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes this member's (encrypted) directory entry.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_directory_entry(
        &self,
        school: &SchoolId,
        entry: &EntryId,
        blob: &[u8],
        key: &RequestKey,
    ) -> Result<(), RelayError> {
        let path = paths::directory_entry(&school.to_hex(), &hex::encode(entry.as_bytes()));
        let body = PutDirectoryEntryRequest { entry: b64(blob) };
        let _: DirectoryEntryPut = self
            .call_json(Method::PUT, &path, &body, Signer::Key(key))
            .await?;
        Ok(())
    }

    /// Writes a member's directory entry as the school root (the admin's device
    /// re-seals an entry with the certificate it just admitted). The entry keeps its
    /// owner.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_directory_entry_as_root(
        &self,
        school: &SchoolAuthority,
        entry: &EntryId,
        blob: &[u8],
    ) -> Result<(), RelayError> {
        let path =
            paths::directory_entry(&school.school_id().to_hex(), &hex::encode(entry.as_bytes()));
        let body = PutDirectoryEntryRequest { entry: b64(blob) };
        let _: DirectoryEntryPut = self
            .call_json(Method::PUT, &path, &body, Signer::School(school))
            .await?;
        Ok(())
    }

    /// Hands in this member's certificate, sealed under the directory key
    /// ([`satchel_core::school::MemberCertificate::seal_admission_request`]; the relay
    /// keeps the first one), and returns the root's admission once the admin signed one
    /// (`None` until then). Signed with the member key its redemption recorded.
    ///
    /// # Errors
    /// [`RelayError`] (`membership_revoked` for a revoked member).
    pub async fn request_admission(
        &self,
        school: &SchoolId,
        member_key: &RequestKey,
        sealed_certificate: &[u8],
    ) -> Result<Option<ReceivedAdmission>, RelayError> {
        let path = paths::admission(&school.to_hex());
        let body = AdmissionRequest {
            sealed_certificate: b64(sealed_certificate),
        };
        let answer: AdmissionResponse = self
            .call_json(Method::POST, &path, &body, Signer::Key(member_key))
            .await?;
        let Some(text) = answer.admission else {
            return Ok(None);
        };
        Ok(Some(ReceivedAdmission {
            signature: unb64(&text, "admission")?
                .try_into()
                .map_err(|_| RelayError::Unexpected("admission"))?,
            issuer: answer
                .admission_issuer
                .map(|text| unb64(&text, "admission_issuer"))
                .transpose()?,
        }))
    }

    /// The certificates members handed in that wait for the admin (at most
    /// [`satchel_relay_api::MAX_ADMISSIONS`]), as the school root.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn pending_admissions(
        &self,
        school: &SchoolAuthority,
    ) -> Result<Vec<WaitingMember>, RelayError> {
        let path = paths::admissions(&school.school_id().to_hex());
        let answer: PendingAdmissions = self
            .call_empty(Method::GET, &path, Signer::School(school))
            .await?;
        answer
            .pending
            .iter()
            .map(|p| {
                let key = |text: &str, field| {
                    unb64(text, field)?
                        .try_into()
                        .map_err(|_| RelayError::Unexpected(field))
                };
                Ok(WaitingMember {
                    member_key: key(&p.member_key, "member_key")?,
                    grant_key: key(&p.grant_key, "grant_key")?,
                    sealed_certificate: unb64(&p.sealed_certificate, "sealed_certificate")?,
                })
            })
            .collect()
    }

    /// Stores admissions signed by the root (member key and signature; at most
    /// [`satchel_relay_api::MAX_ADMISSIONS`]). Returns how many the relay stored.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_admissions(
        &self,
        school: &SchoolAuthority,
        admissions: &[([u8; 32], [u8; 64])],
    ) -> Result<u64, RelayError> {
        let path = paths::admissions(&school.school_id().to_hex());
        let body = PutAdmissionsRequest {
            admissions: admissions
                .iter()
                .map(|(member_key, admission)| Admission {
                    member_key: b64(member_key),
                    admission: b64(admission),
                })
                .collect(),
        };
        let answer: PutAdmissionsResponse = self
            .call_json(Method::PUT, &path, &body, Signer::School(school))
            .await?;
        Ok(answer.stored)
    }

    /// All (encrypted) directory entries.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn directory(
        &self,
        school: &SchoolId,
    ) -> Result<Vec<(EntryId, Vec<u8>)>, RelayError> {
        let path = paths::directory(&school.to_hex());
        let list: DirectoryList = self.call_empty(Method::GET, &path, Signer::None).await?;
        list.entries
            .iter()
            .map(|entry| {
                let id = EntryId::from_bytes(unhex16(&entry.entry_id, "entry_id")?);
                Ok((id, unb64(&entry.entry, "entry")?))
            })
            .collect()
    }

    /// Uploads signed one-time prekeys for `bundle_id`, owned by `owner`.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn upload_prekeys(
        &self,
        bundle_id: &BundleId,
        owner: &RequestKey,
        keys: &[SignedOneTimePrekey],
    ) -> Result<(), RelayError> {
        let path = paths::prekeys(&hex::encode(bundle_id.as_bytes()));
        let body = PrekeyUpload {
            owner_key: b64(&owner.public()),
            keys: keys
                .iter()
                .map(|key| UploadedPrekey {
                    id: key.id,
                    key: b64(&key.public_key),
                    signature: b64(&key.signature),
                })
                .collect(),
        };
        self.call_json_no_content(Method::POST, &path, &body, Signer::Key(owner))
            .await
    }

    /// How many one-time prekeys the relay still holds for `bundle_id` (asked by its
    /// owner).
    ///
    /// # Errors
    /// [`RelayError`] (`unknown_bundle` if nothing was ever uploaded there).
    pub async fn prekey_count(
        &self,
        bundle_id: &BundleId,
        owner: &RequestKey,
    ) -> Result<u64, RelayError> {
        let path = paths::prekey_count(&hex::encode(bundle_id.as_bytes()));
        let count: PrekeyCount = self
            .call_empty(Method::GET, &path, Signer::Key(owner))
            .await?;
        Ok(count.count)
    }

    /// Takes one one-time prekey of `bundle_id`, as a member of the owner's school
    /// (`member` signs the request). The key is not verified here: see
    /// [`satchel_core::PrekeyBundle::with_one_time_prekey`].
    ///
    /// # Errors
    /// [`RelayError`]: `forbidden` for a key that is no member of the owner's school,
    /// `rate_limited` when this member took too many recently.
    pub async fn take_prekey(
        &self,
        bundle_id: &BundleId,
        member: &RequestKey,
    ) -> Result<PrekeyTake, RelayError> {
        let path = paths::prekey_take(&hex::encode(bundle_id.as_bytes()));
        match self
            .call_empty_no_retry::<TakenPrekey>(Method::POST, &path, Signer::Key(member))
            .await
        {
            Ok(taken) => {
                let key = unb64(&taken.key, "key")?;
                let signature = match &taken.signature {
                    Some(signature) => unb64(signature, "signature")?,
                    None => Vec::new(),
                };
                Ok(
                    match SignedOneTimePrekey::from_parts(taken.id, &key, &signature) {
                        Ok(key) => PrekeyTake::Taken(key),
                        Err(error) => PrekeyTake::Invalid(error),
                    },
                )
            }
            Err(RelayError::Rejected {
                code: ErrorCode::NoPrekeys,
                ..
            }) => Ok(PrekeyTake::NoneLeft),
            Err(error) => Err(error),
        }
    }

    /// Creates (idempotently) the queue `queue` on the relay.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn create_queue(&self, queue: &QueueKeys) -> Result<(), RelayError> {
        self.create(queue, false).await
    }

    /// Creates (idempotently) this device's contact mailbox `queue` on the relay, marked
    /// as a mailbox so that the relay limits how many first contacts each sender's
    /// network deposits into it. Marks an existing queue of the same key.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn create_mailbox(&self, queue: &QueueKeys) -> Result<(), RelayError> {
        self.create(queue, true).await
    }

    async fn create(&self, queue: &QueueKeys, mailbox: bool) -> Result<(), RelayError> {
        let body = CreateQueueRequest {
            send_id: b64(queue.send_id().as_bytes()),
            auth_key: b64(&queue.auth_key()),
            mailbox,
        };
        let _: CreatedQueue = self
            .call_json(Method::POST, paths::QUEUES, &body, Signer::Queue(queue))
            .await?;
        Ok(())
    }

    /// Deposits one envelope; returns the relay's id once it is durably stored.
    ///
    /// # Errors
    /// [`RelayError`]; code `unknown_queue` if the recipient has not created the queue.
    pub async fn deposit(&self, envelope: &Envelope) -> Result<u64, RelayError> {
        let (_, bytes) = self
            .call(
                Method::POST,
                paths::ENVELOPES,
                envelope.as_bytes().to_vec(),
                false,
                Signer::None,
            )
            .await?;
        let deposited: Deposited = parse(&bytes)?;
        Ok(deposited.id)
    }

    /// Deposits one group message for many queues, stored once (a shared deposit):
    /// one result per send id, in order.
    ///
    /// # Errors
    /// [`RelayError`] for the whole request.
    pub async fn deposit_shared(
        &self,
        body: Vec<u8>,
    ) -> Result<Vec<satchel_relay_api::BatchItemResult>, RelayError> {
        let (_, bytes) = self
            .call(
                Method::POST,
                paths::ENVELOPES_SHARED,
                body,
                false,
                Signer::None,
            )
            .await?;
        let answer: satchel_relay_api::BatchDepositResponse = parse(&bytes)?;
        Ok(answer.results)
    }

    /// Which of the queues `receive_ids` hold mail, in one request per 10,000 queues (so
    /// an idle sync costs the same whatever the number of conversations). `Ok(None)` if
    /// the relay predates this endpoint: then fetch every queue.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn pending(
        &self,
        receive_ids: &[satchel_core::ReceiveId],
    ) -> Result<Option<Vec<satchel_core::ReceiveId>>, RelayError> {
        let mut pending = Vec::new();
        for chunk in receive_ids.chunks(MAX_PENDING_IDS) {
            let asked: std::collections::HashSet<_> = chunk.iter().collect();
            let body: Vec<u8> = chunk.iter().flat_map(|id| *id.as_bytes()).collect();
            let result = self
                .call(Method::POST, paths::PENDING, body, false, Signer::None)
                .await;
            let bytes = match result {
                Ok((_, bytes)) => bytes,
                Err(RelayError::Rejected {
                    code: ErrorCode::NotFound,
                    ..
                }) => return Ok(None),
                Err(error) => return Err(error),
            };
            let answer: PendingResponse = parse(&bytes)?;
            for id in &answer.pending {
                let id = satchel_core::ReceiveId::from_bytes(unhex16(id, "pending")?);
                // Only what was asked about: a relay cannot make us fetch anything else.
                if asked.contains(&id) {
                    pending.push(id);
                }
            }
        }
        Ok(Some(pending))
    }

    /// Fetches up to `limit` envelopes after `after` from a queue this device owns.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn fetch(
        &self,
        queue: &QueueKeys,
        after: u64,
        limit: u32,
    ) -> Result<FetchedPage, RelayError> {
        let path = paths::queue_messages(&hex::encode(queue.receive_id().as_bytes()), after, limit);
        let answer: FetchResponse = self
            .call_empty(Method::GET, &path, Signer::Queue(queue))
            .await?;
        let messages = answer
            .messages
            .iter()
            .map(|m| {
                let mut envelope = unb64(&m.envelope, "envelope")?;
                // The relay stores envelopes without their send id (zeroed); this is
                // the queue's own, so put it back (also overriding whatever a relay sent).
                if let Some(send_id) = envelope.get_mut(1..17) {
                    send_id.copy_from_slice(queue.send_id().as_bytes());
                }
                Ok(Fetched { id: m.id, envelope })
            })
            .collect::<Result<Vec<_>, RelayError>>()?;
        // An older relay does not say; a full page may then be followed by more.
        let more = answer
            .more
            .unwrap_or(messages.len() >= usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(FetchedPage { messages, more })
    }

    /// Acknowledges (deletes) fetched envelopes.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn ack(&self, queue: &QueueKeys, ids: &[u64]) -> Result<(), RelayError> {
        let path = paths::queue_ack(&hex::encode(queue.receive_id().as_bytes()));
        let body = AckRequest { ids: ids.to_vec() };
        self.call_json_no_content(Method::POST, &path, &body, Signer::Queue(queue))
            .await
    }
}
