//! chromedriver and Chromium sessions: started on loopback by the test, stopped when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Flags for Chromium as root, offline, headless.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,900",
];

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// A chromedriver process on a free loopback port.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    pub fn start() -> Self {
        let hint = "install Debian's chromium and chromium-driver: \
                    apt-get install -y --no-install-recommends chromium chromium-driver";
        let chromedriver =
            on_path("chromedriver").unwrap_or_else(|| panic!("no chromedriver: {hint}"));
        let chromium = on_path("chromium").unwrap_or_else(|| panic!("no chromium: {hint}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        }
    }

    /// A new browser (its own profile and cookies) whose preferred language is
    /// `accept_language`.
    pub async fn browser(&self, accept_language: &str) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            json!({
                "binary": self.chromium,
                "args": FLAGS.iter().copied().chain([format!("--lang={accept_language}").as_str()]).collect::<Vec<_>>(),
                "prefs": { "intl": { "accept_languages": accept_language } },
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                Err(error) if Instant::now() > deadline => panic!("chromedriver: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let bin = crate::support::satchel_bin();
    // target/debug/satchel → target/
    let target = bin
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// The element `css` once it exists (at most 15 s); the page in the panic if not.
pub async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(error) => panic!(
            "no {css} ({error}) at {}: {}",
            browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default(),
            browser.source().await.unwrap_or_default()
        ),
    }
}

/// Runs `action` on the element `css`, finding it again if the page replaced it
/// meanwhile (a navigation or a live update), for at most 15 s.
async fn on_element<T, F, Fut>(browser: &Client, css: &str, action: F) -> T
where
    F: Fn(fantoccini::elements::Element) -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let start = Instant::now();
    loop {
        match action(element(browser, css).await).await {
            Ok(value) => return value,
            Err(error) if start.elapsed() > Duration::from_secs(15) => panic!("{css}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Types into the field `css`.
pub async fn fill(browser: &Client, css: &str, text: &str) {
    on_element(browser, css, |e| async move { e.send_keys(text).await }).await;
}

/// Clicks `css`.
pub async fn click(browser: &Client, css: &str) {
    on_element(browser, css, |e| async move { e.click().await }).await;
}

/// The text of `css` once it exists.
pub async fn text(browser: &Client, css: &str) -> String {
    on_element(browser, css, |e| async move { e.text().await }).await
}

/// Waits until some element matching `css` contains `needle`, checking every 10 ms,
/// for at most `limit`; returns how long it took.
pub async fn wait_for_text(browser: &Client, css: &str, needle: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        for element in browser
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            if element.text().await.unwrap_or_default().contains(needle) {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < limit,
            "no {css} containing {needle:?} within {limit:?}; page: {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `script` in the page and returns its value.
pub async fn eval(browser: &Client, script: &str) -> Value {
    browser.execute(script, Vec::new()).await.unwrap()
}
