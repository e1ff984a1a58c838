//! The compiled relay terminating TLS itself (`--tls-cert`, `--tls-key`): HTTPS and
//! WebSocket push over TLS with a test CA made by rcgen, plain HTTP refused on the TLS
//! port, and clear startup errors for bad certificate and key files.

// Test code may panic on what it set up itself; the workspace lints are for library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    missing_docs
)]

#[path = "api/support.rs"]
mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use support::{Key, TestRelay, envelope, queue_auth, queue_keys, rid};

/// A test certificate authority and a relay certificate for 127.0.0.1 and localhost,
/// written as PEM files.
struct Pki {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

fn ca() -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Oak Primary test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, key)
}

fn pki(dir: &Path) -> Pki {
    let (ca_params, ca_key) = ca();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "relay.oak.test");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let cert = dir.join("relay.crt");
    let key = dir.join("relay.key");
    // The chain file holds the leaf, then the CA (as a server would send its chain).
    std::fs::write(&cert, format!("{}{}", leaf_cert.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert,
        key,
    }
}

fn relay_command(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_satchel-relay"));
    command
        .args(["--listen", "127.0.0.1:0", "--log", "warn", "--data"])
        .arg(data)
        .env_remove("SATCHEL_RELAY_TLS_CERT")
        .env_remove("SATCHEL_RELAY_TLS_KEY")
        .env(
            "SATCHEL_RELAY_REGISTRATION_TOKEN",
            support::REGISTRATION_TOKEN,
        );
    command
}

/// Starts the relay and returns it with the address from `listening on ADDR`.
fn start(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (child, addr)
}

fn start_tls(data: &Path, pki: &Pki) -> (Child, String) {
    let mut command = relay_command(data);
    command
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&pki.key);
    start(command)
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "satchel-registration",
        reqwest::header::HeaderValue::from_static(support::REGISTRATION_TOKEN),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

fn rustls_client(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(unix)]
fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[tokio::test]
async fn https_and_websocket_push_work_over_tls_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (mut child, addr) = start_tls(&dir.path().join("data"), &pki);
    assert!(
        addr.starts_with("127.0.0.1:"),
        "the stdout line stays `listening on ADDR`: {addr}"
    );
    let mut relay = TestRelay::external(format!("https://{addr}"), tempfile::tempdir().unwrap());
    relay.client = https_client(&pki.ca_pem);

    // Signed JSON requests over HTTPS.
    relay.register_school(&Key::new()).await;
    let keys = queue_keys();
    relay.create_queue(&keys).await;

    // WebSocket push over TLS, verified against the test CA for the name "localhost".
    let path = format!("/v1/queues/{}/ws", rid(&keys));
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(rustls_client(&pki.ca_pem))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut request = format!("wss://localhost{path}")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "satchel-auth",
        queue_auth(&keys, "GET", &path, b"").parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    assert_eq!(
        relay
            .deposit(envelope(keys.send_id().as_bytes(), 50))
            .await
            .status,
        202
    );
    let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a notification")
        .unwrap()
        .unwrap();
    assert_eq!(frame, Message::text(r#"{"type":"mail"}"#));

    // SIGTERM closes the socket and the relay exits cleanly.
    sigterm(&child);
    let end = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("closed");
    assert!(
        matches!(end, None | Some(Err(_)) | Some(Ok(Message::Close(_)))),
        "{end:?}"
    );
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn the_tls_port_does_not_serve_plain_http_nor_untrusted_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (mut child, addr) = start_tls(&dir.path().join("data"), &pki);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/v1/schools/00/revocations"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // A client that does not trust the test CA fails the handshake.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let other_ca = self::pki(&other);
    let untrusted = https_client(&other_ca.ca_pem)
        .get(format!("https://{addr}/v1/schools/00/revocations"))
        .send()
        .await;
    assert!(untrusted.is_err(), "{untrusted:?}");

    // And the relay still serves a client that does trust it.
    let response = https_client(&pki.ca_pem)
        .get(format!(
            "https://localhost:{}/nowhere",
            addr.rsplit(':').next().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn tls_options_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let mut command = relay_command(&dir.path().join("data"));
    command
        .env("SATCHEL_RELAY_TLS_CERT", &pki.cert)
        .env("SATCHEL_RELAY_TLS_KEY", &pki.key);
    let (mut child, addr) = start(command);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        https_client(&pki.ca_pem)
            .get(format!("https://{addr}/nowhere"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 404);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs the relay with `args` and returns its output (it must exit by itself).
fn run_failing(data: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let output = relay_command(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "no listening line: {output:?}");
    output
}

#[test]
fn bad_certificate_or_key_files_stop_the_relay_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let data = dir.path().join("data");
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    // A key of another certificate.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();

    let cases: [(&Path, &Path, &Path, &str); 6] = [
        (
            &missing,
            &pki.key,
            &missing,
            "cannot read the TLS certificate file",
        ),
        (
            &pki.cert,
            &missing,
            &missing,
            "cannot read the TLS key file",
        ),
        (&garbage, &pki.key, &garbage, "contains no certificate"),
        (&broken, &pki.key, &broken, "is not valid PEM"),
        // The certificate file has no private key in it.
        (&pki.cert, &pki.cert, &pki.cert, "contains no private key"),
        (
            &pki.cert,
            &other_key,
            &other_key,
            "does not belong to the certificate",
        ),
    ];
    for (cert, key, named, problem) in cases {
        let output = run_failing(
            &data,
            &[
                "--tls-cert".as_ref(),
                cert.as_os_str(),
                "--tls-key".as_ref(),
                key.as_os_str(),
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(problem), "{problem}: {stderr}");
        assert!(
            stderr.contains(&named.display().to_string()),
            "{} not named: {stderr}",
            named.display()
        );
    }
    assert!(
        !data.exists(),
        "no database is created when TLS cannot start"
    );
}

#[test]
fn tls_cert_and_key_go_together() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let data = dir.path().join("data");
    for (flag, path, other) in [
        ("--tls-cert", &pki.cert, "--tls-key"),
        ("--tls-key", &pki.key, "--tls-cert"),
    ] {
        let output = run_failing(&data, &[flag.as_ref(), path.as_os_str()]);
        assert_eq!(output.status.code(), Some(2), "usage error: {output:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(other), "{other} not mentioned: {stderr}");
    }
}

#[test]
fn help_explains_the_tls_options() {
    let output = Command::new(env!("CARGO_BIN_EXE_satchel-relay"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for text in [
        "--tls-cert",
        "--tls-key",
        "SATCHEL_RELAY_TLS_CERT",
        "SATCHEL_RELAY_TLS_KEY",
    ] {
        assert!(help.contains(text), "{text} missing from --help");
    }
}
