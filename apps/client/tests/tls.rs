//! `RelayClient` over TLS against the real `satchel-relay` binary on 127.0.0.1: a school
//! CA passed in `TransportConfig` is trusted, any other issuer or host name is a
//! certificate error, `http://` is refused except for loopback, and network failures
//! say what failed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use satchel_client::relay::{
    CertificateProblem, NetworkFailure, RelayClient, RelayError, TransportConfig,
};
use satchel_core::school::SchoolRoot;

/// The relay binary in this target folder (`target/debug/satchel-relay`), built once if
/// missing or too old for TLS (e.g. when this test runs on its own).
fn relay_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_build_relay).clone()
}

fn find_or_build_relay() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/tls-HASH -> target/debug/satchel-relay
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join(format!("satchel-relay{}", std::env::consts::EXE_SUFFIX));
    let supports_tls = || {
        Command::new(&path)
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--tls-cert"))
    };
    if !supports_tls() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "satchel-relay", "--bin", "satchel-relay"])
            .status()
            .unwrap();
        assert!(status.success(), "building satchel-relay failed");
        assert!(supports_tls(), "{} has no --tls-cert", path.display());
    }
    path
}

/// A running relay process, killed when dropped.
struct Relay {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

/// The registration token the test relays are started with (through the environment,
/// as an operator should pass it).
const REGISTRATION_TOKEN: &str = "tls-test-registration-token";

impl Relay {
    fn start(tls: Option<(&Path, &Path)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(relay_bin());
        command
            .args(["--listen", "127.0.0.1:0", "--log", "warn", "--data"])
            .arg(dir.path().join("data"))
            .env_remove("SATCHEL_RELAY_TLS_CERT")
            .env_remove("SATCHEL_RELAY_TLS_KEY")
            .env("SATCHEL_RELAY_REGISTRATION_TOKEN", REGISTRATION_TOKEN);
        if let Some((cert, key)) = tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
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
        Self {
            child,
            addr,
            _dir: dir,
        }
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A school CA (PEM) and a relay certificate from it for the name `localhost` only
/// (not 127.0.0.1, so that `https://127.0.0.1` is a wrong host name), as files.
struct Pki {
    ca_pem: String,
    ca_file: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    pki_named(dir, "Oak Primary test CA")
}

fn pki_named(dir: &Path, ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let pki = Pki {
        ca_pem: ca_cert.pem(),
        ca_file: dir.join("school-ca.pem"),
        cert: dir.join("relay.crt"),
        key: dir.join("relay.key"),
    };
    std::fs::write(&pki.ca_file, &pki.ca_pem).unwrap();
    std::fs::write(&pki.cert, leaf_cert.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}

fn school() -> SchoolRoot {
    SchoolRoot::generate(&mut satchel_core::os_rng())
}

#[tokio::test]
async fn a_client_trusting_the_school_ca_reaches_the_https_relay() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let relay = Relay::start(Some((&pki.cert, &pki.key)));
    let url = format!("https://localhost:{}", relay.port());

    // The CA as bytes…
    let client = RelayClient::with_config(
        &url,
        &TransportConfig::with_extra_ca_pem(pki.ca_pem.clone()),
    )
    .unwrap();
    let root = school();
    client
        .register_school(&root, Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
    assert_eq!(
        client.get_revocations(&root.school_id()).await.unwrap(),
        None
    );

    // …or as a file.
    let client =
        RelayClient::with_config(&url, &TransportConfig::with_ca_file(&pki.ca_file).unwrap())
            .unwrap();
    client
        .register_school(&school(), Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
}

#[tokio::test]
async fn another_issuer_or_host_name_is_a_certificate_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("school"));
    let other = pki_named(&dir.path().join("other"), "Elm Academy test CA").ca_pem;
    // Another CA that happens to have the same name as the relay's.
    let same_name = pki_other(dir.path());
    let relay = Relay::start(Some((&pki.cert, &pki.key)));
    let url = format!("https://localhost:{}", relay.port());
    let root = school();

    // Another CA, one with the same name, and the public roots only: unknown issuer.
    for config in [
        TransportConfig::with_extra_ca_pem(other),
        TransportConfig::with_extra_ca_pem(same_name),
        TransportConfig::default(),
    ] {
        let client = RelayClient::with_config(&url, &config).unwrap();
        let error = client
            .register_school(&root, Some(REGISTRATION_TOKEN))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RelayError::Certificate {
                    problem: CertificateProblem::UnknownIssuer,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("certificate is not trusted") && message.contains("--ca-file"),
            "{message}"
        );
        assert!(!message.contains("/v1/"), "no URL in {message}");
    }

    // The right CA, but the certificate is for `localhost`, not `127.0.0.1`.
    let client = RelayClient::with_config(
        &format!("https://127.0.0.1:{}", relay.port()),
        &TransportConfig::with_extra_ca_pem(pki.ca_pem.clone()),
    )
    .unwrap();
    let error = client.get_revocations(&root.school_id()).await.unwrap_err();
    assert!(
        matches!(
            error,
            RelayError::Certificate {
                problem: CertificateProblem::WrongHost,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("host name"), "{error}");
    assert!(error.network_failure().is_none());
}

/// The CA certificate of an unrelated PKI whose CA has the default name.
fn pki_other(dir: &Path) -> String {
    pki(&dir.join("same-name")).ca_pem
}

#[test]
fn http_to_a_host_other_than_loopback_is_refused_before_any_request() {
    let expected = "the relay address uses http://, which is not encrypted; use https:// \
                    (http is only allowed for 127.0.0.1/localhost test relays)";
    for url in [
        "http://relay.oak-primary.example",
        "http://relay.oak-primary.example:7878/",
        "http://10.0.0.5:7878",
        "http://192.168.1.20",
        "http://[::2]:7878",
        "http://[2001:db8::1]",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example",
        "http://127.0.0.1@evil.example",
        "http://0.0.0.0:7878",
    ] {
        for config in [
            TransportConfig::default(),
            TransportConfig::with_extra_ca_pem(pki_other(tempfile::tempdir().unwrap().path())),
        ] {
            let error = RelayClient::with_config(url, &config).unwrap_err();
            assert!(
                matches!(error, RelayError::InsecureUrl { .. }),
                "{url}: {error:?}"
            );
            assert_eq!(error.to_string(), expected, "{url}");
        }
    }
    // Loopback test relays and https are fine (nothing is sent yet).
    for url in [
        "http://127.0.0.1:7878",
        "http://127.3.4.5",
        "http://localhost:7878/",
        "http://LOCALHOST",
        "http://[::1]:7878",
        "https://relay.oak-primary.example",
        "https://10.0.0.5:7878",
    ] {
        RelayClient::new(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // Not a relay address at all: still InvalidUrl.
    for url in [
        "ftp://relay.example",
        "relay.example",
        "https://",
        "http:// x",
    ] {
        assert!(
            matches!(RelayClient::new(url), Err(RelayError::InvalidUrl(_))),
            "{url}"
        );
    }
}

#[tokio::test]
async fn http_to_a_loopback_relay_still_works() {
    let relay = Relay::start(None);
    let client = RelayClient::new(&format!("http://{}", relay.addr)).unwrap();
    let root = school();
    client
        .register_school(&root, Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
    assert_eq!(
        client.get_revocations(&root.school_id()).await.unwrap(),
        None
    );
}

#[test]
fn a_bad_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = TransportConfig::with_ca_file(&missing).unwrap_err();
    assert!(
        matches!(error, RelayError::CaCertificate { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("cannot read"),
        "{message}"
    );

    let cases: [(&[u8], &str); 3] = [
        (b"this is not a certificate\n", "contains no certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "not valid PEM",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a usable CA certificate",
        ),
    ];
    for (pem, problem) in cases {
        let file = dir.path().join("school-ca.pem");
        std::fs::write(&file, pem).unwrap();
        let config = TransportConfig::with_ca_file(&file).unwrap();
        let error = RelayClient::with_config("https://relay.example", &config).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RelayError::CaCertificate { .. }),
            "{problem}: {error:?}"
        );
        assert!(message.contains(problem), "{problem}: {message}");
        assert!(
            message.contains(&file.display().to_string()),
            "file not named: {message}"
        );
    }
}

#[tokio::test]
async fn network_failures_say_what_failed_without_the_url() {
    let root = school();
    let school_hex = root.school_id().to_hex();

    // Nothing listens on the port: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = RelayClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let error = client.get_revocations(&root.school_id()).await.unwrap_err();
    assert_eq!(
        error.network_failure(),
        Some(NetworkFailure::Refused),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains(&school_hex), "no URL in {message}");
    assert!(
        !format!("{error:?}").contains(&school_hex),
        "no URL in {error:?}"
    );

    // https:// to a relay that speaks plain HTTP: a TLS failure, not a certificate one.
    let relay = Relay::start(None);
    let client = RelayClient::new(&format!("https://{}", relay.addr)).unwrap();
    let error = client.get_revocations(&root.school_id()).await.unwrap_err();
    assert_eq!(
        error.network_failure(),
        Some(NetworkFailure::Tls),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("TLS"), "{message}");
    assert!(!message.contains(&school_hex), "no URL in {message}");
}
