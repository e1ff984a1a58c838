//! Shared helpers: a relay per test, request signing, keys and envelopes.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::Rng as _;
use reqwest::Method;
use satchel_core::{Account, QueueKeys};
use satchel_relay::{Config, Relay, serve};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    satchel_core::os_rng().fill_bytes(&mut bytes);
    bytes
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The signed message, built from docs/RELAY_API.md independently of the relay's code.
pub fn request_message(
    method: &str,
    path: &str,
    timestamp: &str,
    nonce: &[u8; 16],
    body: &[u8],
) -> Vec<u8> {
    let mut m = b"Satchel relay request v2\n".to_vec();
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(path.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce);
    m.extend_from_slice(&Sha256::digest(body));
    m
}

/// An Ed25519 key (school root, redeem key, member key, prekey owner, queue auth key).
pub struct Key(pub SigningKey);

impl Key {
    pub fn new() -> Self {
        Self(SigningKey::from_bytes(&random::<32>()))
    }
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
    pub fn public_b64(&self) -> String {
        b64(&self.public())
    }
    pub fn auth_at(&self, method: &str, path: &str, body: &[u8], ts: i64) -> String {
        let ts = ts.to_string();
        let nonce = random::<16>();
        let sig = self
            .0
            .sign(&request_message(method, path, &ts, &nonce, body));
        format!("{ts}.{}.{}", b64(&nonce), b64(&sig.to_bytes()))
    }
    pub fn auth(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.auth_at(method, path, body, now())
    }
}

/// A queue's keys (taken from a fresh account's mailbox).
pub fn queue_keys() -> QueueKeys {
    Account::new(&mut satchel_core::os_rng()).mailbox().clone()
}

pub fn queue_auth(keys: &QueueKeys, method: &str, path: &str, body: &[u8]) -> String {
    let ts = now().to_string();
    let nonce = random::<16>();
    let proof = keys.prove(&request_message(method, path, &ts, &nonce, body));
    format!("{ts}.{}.{}", b64(&nonce), b64(&proof))
}

pub fn rid(keys: &QueueKeys) -> String {
    hex::encode(keys.receive_id().as_bytes())
}

/// A syntactically valid envelope for `send_id` with a random body.
pub fn envelope(send_id: &[u8; 16], body_len: usize) -> Vec<u8> {
    let mut e = vec![1u8];
    e.extend_from_slice(send_id);
    let mut body = vec![0u8; body_len];
    satchel_core::os_rng().fill_bytes(&mut body);
    e.extend_from_slice(&body);
    e
}

/// An envelope as the relay hands it back: its send id bytes zeroed (the relay stores
/// no send id; the queue's owner knows its own).
pub fn stored(envelope: &[u8]) -> Vec<u8> {
    let mut stored = envelope.to_vec();
    stored[1..17].fill(0);
    stored
}

/// A fetched envelope with its queue's send id put back, as the client does.
pub fn restored(fetched: &[u8], send_id: &[u8; 16]) -> Vec<u8> {
    let mut envelope = fetched.to_vec();
    envelope[1..17].copy_from_slice(send_id);
    envelope
}

pub struct Response {
    pub status: u16,
    pub json: Value,
}

impl Response {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<none>")
    }
}

/// The registration token of the test relays; every request of [`TestRelay`]'s client
/// carries it (only school registrations read it).
pub const REGISTRATION_TOKEN: &str = "api-test-registration-token";

/// An HTTP client that presents [`REGISTRATION_TOKEN`].
pub fn registering_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "satchel-registration",
        reqwest::header::HeaderValue::from_static(REGISTRATION_TOKEN),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The PostgreSQL server the suite runs against (`SATCHEL_TEST_POSTGRES`, a URL such as
/// scripts/pg-tmp.sh prints), or `None`: the relays use SQLite.
pub fn test_postgres() -> Option<String> {
    std::env::var("SATCHEL_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Runs blocking PostgreSQL client code off the async runtime (the sync client refuses
/// to run inside one).
fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

/// The database of the relay whose files live in `dir`: with `SATCHEL_TEST_POSTGRES`, a
/// fresh database on that server, created on first use and remembered in
/// `dir/database-url` so a restarted relay finds its data again; else `None`.
pub fn database_for(dir: &std::path::Path) -> Option<String> {
    let remembered = dir.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return Some(url);
    }
    let server = test_postgres()?;
    let name = format!("satchel_test_{}", hex::encode(random::<8>()));
    let create = format!("CREATE DATABASE {name}");
    let server_url = server.clone();
    off_runtime(move || {
        let mut client = postgres::Client::connect(&server_url, postgres::NoTls).unwrap();
        client.batch_execute(&create).unwrap();
    });
    let (base, _) = server.rsplit_once('/').expect("a database URL with a path");
    let url = format!("{base}/{name}");
    std::fs::write(&remembered, &url).unwrap();
    Some(url)
}

/// Runs `sql` (returning one row of two integers) on the relay's database, whichever
/// backend it uses.
pub fn sql_pair(dir: &std::path::Path, sql: &'static str) -> (i64, i64) {
    if let Some(url) = database_for_existing(dir) {
        return off_runtime(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let row = client.query_one(sql, &[]).unwrap();
            (row.get(0), row.get(1))
        });
    }
    let path = dir.join("data").join("relay.sqlite3");
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
}

/// Everything the relay stored, as raw bytes, to search for what must not be there:
/// the SQLite folder's files, or every PostgreSQL table in binary COPY format (raw
/// bytea values, whatever the server compresses on disk).
pub fn stored_bytes(dir: &std::path::Path) -> Vec<Vec<u8>> {
    if let Some(url) = database_for_existing(dir) {
        return off_runtime(move || {
            use std::io::Read as _;
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let tables: Vec<String> = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public'",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            assert!(tables.len() >= 10, "{tables:?}");
            tables
                .iter()
                .map(|table| {
                    let mut bytes = Vec::new();
                    client
                        .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
                        .unwrap()
                        .read_to_end(&mut bytes)
                        .unwrap();
                    bytes
                })
                .collect()
        });
    }
    std::fs::read_dir(dir.join("data"))
        .unwrap()
        .map(|file| std::fs::read(file.unwrap().path()).unwrap())
        .collect()
}

fn database_for_existing(dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(dir.join("database-url")).ok()
}

/// Starts the relay binary on a free port over `data` (and the suite's PostgreSQL
/// database for it, if any), with `extra` flags, its log to `stderr` (or nowhere);
/// returns the child and its base URL.
pub fn spawn_binary(
    data: &std::path::Path,
    extra: &[&str],
    stderr: Option<&std::path::Path>,
) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_satchel-relay"));
    if let Some(url) = data.parent().and_then(database_for) {
        command.args(["--database", &url]);
    }
    command
        .args(["--listen", "127.0.0.1:0", "--log", "warn", "--data"])
        .arg(data)
        .args(extra)
        .env("SATCHEL_RELAY_REGISTRATION_TOKEN", REGISTRATION_TOKEN)
        .stdout(std::process::Stdio::piped());
    match stderr {
        Some(path) => command.stderr(std::fs::File::create(path).unwrap()),
        None => command.stderr(std::process::Stdio::null()),
    };
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the relay did not start: {line:?}"));
    (child, format!("http://{addr}"))
}

/// A WebSocket upgrade request for `path` on `relay`, with a queue proof by `keys`.
pub fn ws_request(
    relay: &TestRelay,
    path: &str,
    keys: &QueueKeys,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{}{path}", &relay.base["http://".len()..])
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "satchel-auth",
        queue_auth(keys, "GET", path, b"").parse().unwrap(),
    );
    request
}

pub struct TestRelay {
    relay: Option<Relay>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

impl TestRelay {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), configure).await
    }

    /// A relay over the data a stopped one left in `dir` (or a fresh `dir`).
    pub async fn start_in(dir: tempfile::TempDir, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
        config.database = database_for(dir.path());
        config.registration_token =
            Some(satchel_relay::registration::RegistrationToken::new(REGISTRATION_TOKEN).unwrap());
        configure(&mut config);
        let relay = serve(config).await.unwrap();
        let base = format!("http://{}", relay.local_addr());
        Self {
            relay: Some(relay),
            base,
            dir,
            client: registering_client(),
        }
    }

    /// A client for a relay running elsewhere (e.g. the binary).
    pub fn external(base: String, dir: tempfile::TempDir) -> Self {
        Self {
            relay: None,
            base,
            dir,
            client: registering_client(),
        }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
        self.dir
    }

    /// The relay's address (in-process relays only).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.relay
            .as_ref()
            .expect("an in-process relay")
            .local_addr()
    }

    /// The `--metrics-listen` address (in-process relays started with one).
    pub fn metrics_addr(&self) -> std::net::SocketAddr {
        self.relay
            .as_ref()
            .and_then(Relay::metrics_addr)
            .expect("a relay with a metrics listener")
    }

    /// Connections the relay holds now (in-process relays only).
    pub fn connections(&self) -> usize {
        self.relay
            .as_ref()
            .expect("an in-process relay")
            .connections()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        auth: Option<String>,
        content_type: &str,
    ) -> Response {
        let mut request = self
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .header("content-type", content_type)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("satchel-auth", auth);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{status}: non-JSON body {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Response { status, json }
    }

    /// JSON request signed by `key` (or unsigned).
    pub async fn json(&self, method: &str, path: &str, body: Value, key: Option<&Key>) -> Response {
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let auth = key.map(|k| k.auth(method, path, &body));
        self.send(method, path, body, auth, "application/json")
            .await
    }

    /// Request with a queue proof.
    pub async fn queue(&self, method: &str, path: &str, body: Value, keys: &QueueKeys) -> Response {
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let auth = queue_auth(keys, method, path, &body);
        self.send(method, path, body, Some(auth), "application/json")
            .await
    }

    pub async fn deposit(&self, envelope: Vec<u8>) -> Response {
        self.send(
            "POST",
            "/v1/envelopes",
            envelope,
            None,
            "application/octet-stream",
        )
        .await
    }

    /// Creates a queue for `keys` (signed with core's queue proof) and returns the
    /// response.
    pub async fn create_queue_response(&self, keys: &QueueKeys) -> Response {
        let body = serde_json::json!({
            "send_id": b64(keys.send_id().as_bytes()),
            "auth_key": b64(&keys.auth_key()),
        });
        self.queue("POST", "/v1/queues", body, keys).await
    }

    /// Creates a queue for `keys` and returns its receive id.
    pub async fn create_queue(&self, keys: &QueueKeys) -> String {
        let r = self.create_queue_response(keys).await;
        assert!(r.status == 201 || r.status == 200, "{}", r.json);
        r.json["receive_id"].as_str().unwrap().to_owned()
    }

    pub async fn fetch(&self, keys: &QueueKeys, query: &str) -> Response {
        let path = format!("/v1/queues/{}/messages{query}", rid(keys));
        self.queue("GET", &path, Value::Null, keys).await
    }

    pub async fn register_school(&self, root: &Key) -> String {
        let r = self
            .json(
                "POST",
                "/v1/schools",
                serde_json::json!({"root_key": root.public_b64()}),
                Some(root),
            )
            .await;
        assert!(r.status == 201 || r.status == 200, "{}", r.json);
        r.json["school_id"].as_str().unwrap().to_owned()
    }
}

/// Creates and redeems an invite, returning the member key.
pub async fn member(relay: &TestRelay, root: &Key, school: &str) -> Key {
    member_with_grant(relay, root, school).await.0
}

/// A member of `school` as [`member`] makes one: (member key, grant key, invite lookup
/// id).
pub async fn member_with_grant(relay: &TestRelay, root: &Key, school: &str) -> (Key, Key, String) {
    let redeem = Key::new();
    let lookup = hex::encode(random::<16>());
    let path = format!("/v1/schools/{school}/invites/{lookup}");
    let body = serde_json::json!({"record": b64(b"sealed"), "redeem_key": redeem.public_b64(), "expires_at": now() + 600});
    assert_eq!(relay.json("PUT", &path, body, Some(root)).await.status, 201);
    let member = Key::new();
    let r = relay
        .json(
            "POST",
            &format!("{path}/redeem"),
            serde_json::json!({"member_key": member.public_b64()}),
            Some(&redeem),
        )
        .await;
    assert_eq!(r.status, 200);
    (member, redeem, lookup)
}

/// A PUT/DELETE of a directory entry signed by a member, naming its key in
/// `Satchel-Key`.
pub async fn member_write(
    relay: &TestRelay,
    method: &str,
    path: &str,
    entry: Option<&[u8]>,
    key: &Key,
) -> Response {
    let body = entry.map_or(
        serde_json::Value::Null,
        |e| serde_json::json!({"entry": b64(e)}),
    );
    member_json(relay, method, path, body, key).await
}

/// A JSON request (`Null`: no body) signed by a member, naming its key in
/// `Satchel-Key`.
pub async fn member_json(
    relay: &TestRelay,
    method: &str,
    path: &str,
    body: serde_json::Value,
    key: &Key,
) -> Response {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let auth = key.auth(method, path, &body);
    let headers = [("satchel-auth", auth), ("satchel-key", key.public_b64())];
    json_with_headers(relay, method, path, body, &headers).await
}

/// A JSON request with the given headers (signatures made by the caller).
pub async fn json_with_headers(
    relay: &TestRelay,
    method: &str,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Response {
    let mut request = relay
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            relay.url(path),
        )
        .header("content-type", "application/json")
        .body(body)
        .timeout(std::time::Duration::from_secs(10));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Response { status, json }
}
