//! What every CLI test uses: the real relay binary on 127.0.0.1 and `satchel` processes
//! with their own profile folders.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The passphrase every test profile is encrypted with.
pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn satchel_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_satchel"))
}

/// The relay binary sits next to ours in the target folder; build it if this test was
/// run on its own.
pub fn relay_bin() -> PathBuf {
    let path = satchel_bin().with_file_name("satchel-relay");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "satchel-relay", "--bin", "satchel-relay"])
            .status()
            .unwrap();
        assert!(status.success(), "building satchel-relay failed");
    }
    path
}

/// The registration token the test relays are started with.
pub const REGISTRATION_TOKEN: &str = "cli-test-registration-token";

pub struct Relay {
    pub child: Child,
    pub addr: String,
}

impl Relay {
    pub fn start(data: &Path, listen: &str) -> Self {
        let mut child = Command::new(relay_bin())
            .args(["--listen", listen, "--data"])
            .arg(data)
            // Every test person comes from 127.0.0.1, and the concurrency tests' thirty
            // processes on one profile each flush the shared outbox, depositing the same
            // first contacts into one mailbox many times over: more than the per-network
            // mailbox share a real network gets (its own test is in the relay's).
            .args(["--mailbox-deposit-burst", "100000"])
            .env("SATCHEL_RELAY_REGISTRATION_TOKEN", REGISTRATION_TOKEN)
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
            .expect("listening line")
            .to_string();
        Self { child, addr }
    }

    pub fn kill(mut self) {
        // SIGKILL: no graceful shutdown, as in a crash.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Relay {
    /// A test that ends, or fails, never leaves its relay running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Person {
    pub home: PathBuf,
}

impl Person {
    /// Runs `satchel` as this person (with the relay's registration token in the
    /// environment, as an admin would have it).
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        self.run_with(
            args,
            &[("SATCHEL_REGISTRATION_TOKEN", Some(REGISTRATION_TOKEN))],
        )
    }

    /// Runs `satchel` with environment variables set (`Some`) or removed (`None`).
    pub fn run_with(&self, args: &[&str], env: &[(&str, Option<&str>)]) -> Result<String, String> {
        let mut command = Command::new(satchel_bin());
        for (name, value) in env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let output = command
            .env("SATCHEL_PASSPHRASE", PASSPHRASE)
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .output()
            .unwrap();
        if output.status.success() {
            Ok(String::from_utf8(output.stdout).unwrap())
        } else {
            Err(String::from_utf8(output.stderr).unwrap())
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args)
            .unwrap_or_else(|e| panic!("satchel {args:?} failed: {e}"))
    }

    pub fn sync(&self) -> Vec<Value> {
        self.ok(&["--json", "sync"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn texts(messages: &[Value]) -> Vec<(String, bool, String)> {
    messages
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap().to_string(),
                m["verified"].as_bool().unwrap(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            return files_contain(&path, needle);
        }
        std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    })
}

/// A relay with a school on it, and the admin's profile.
pub struct School {
    pub dir: tempfile::TempDir,
    pub relay: Relay,
    pub admin: Person,
}

impl School {
    /// Starts a relay on a free loopback port and creates "Oak Primary" on it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(&dir.path().join("relay-data"), "127.0.0.1:0");
        let url = format!("http://{}", relay.addr);
        let admin = Person {
            home: dir.path().join("admin"),
        };
        admin.ok(&["school", "create", "--name", "Oak Primary", "--relay", &url]);
        Self { dir, relay, admin }
    }

    /// A profile folder for `folder` (not enrolled).
    pub fn person(&self, folder: &str) -> Person {
        Person {
            home: self.dir.path().join(folder),
        }
    }

    /// An invite code from the admin.
    pub fn invite(&self, role: &str, name: &str, class: &str) -> String {
        let out = self.admin.ok(&[
            "--json", "school", "invite", "--role", role, "--name", name, "--class", class,
        ]);
        serde_json::from_str::<Value>(&out).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A person invited and enrolled in one step.
    pub fn enrol(&self, folder: &str, role: &str, name: &str, class: &str) -> Person {
        let code = self.invite(role, name, class);
        let person = self.person(folder);
        person.ok(&["join", &code]);
        // The office's sync confirms the new member.
        let synced = self.admin.ok(&["sync"]);
        assert!(synced.contains("Confirmed 1 new member"), "{synced}");
        person
    }
}

/// A `satchel app` process for a profile folder; killed when dropped.
#[allow(dead_code)] // the browser suite opens `url`
pub struct App {
    pub child: Child,
    /// The printed address, with the launch token.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The launch token.
    pub token: String,
    pub port: u16,
}

impl App {
    /// Starts `satchel app` on a free port. With `passphrase` the profile opens at once
    /// (`SATCHEL_PASSPHRASE`); without it the page asks.
    pub fn start(home: &Path, passphrase: Option<&str>) -> Self {
        let mut command = Command::new(satchel_bin());
        match passphrase {
            Some(p) => command.env("SATCHEL_PASSPHRASE", p),
            None => command.env_remove("SATCHEL_PASSPHRASE"),
        };
        let mut child = command
            .arg("--home")
            .arg(home)
            .args(["app", "--poll-ms", "200"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Keep reading whatever else it prints: a closed pipe would stop it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let (origin, token) = url.split_once("/?token=").unwrap();
        let port = origin.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            child,
            origin: origin.to_string(),
            token: token.to_string(),
            url,
            port,
        }
    }

    /// The cookie a browser gets from the first visit.
    pub fn cookie(&self) -> String {
        format!("satchel_token_{}={}", self.port, self.token)
    }

    /// One raw HTTP/1.1 request with exactly these headers; returns the status code
    /// and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
