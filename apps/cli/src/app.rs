//! `satchel app`: starts the web app ([`satchel_web`]) for this profile and prints its
//! address. The passphrase comes from `SATCHEL_PASSPHRASE` if set; otherwise the page
//! asks for it (it never appears on the command line or in the terminal).

use std::path::Path;
use std::time::Duration;

use satchel_client::relay::TransportConfig;
use satchel_client::store::keyfile::KeySource;
use zeroize::Zeroizing;

use crate::CliError;
use crate::passphrase;

pub async fn run(
    home: &Path,
    transport: TransportConfig,
    port: u16,
    open: bool,
    poll_ms: u64,
    json: bool,
) -> Result<(), CliError> {
    let key = std::env::var_os(passphrase::ENV)
        .map(|value| Zeroizing::new(value.to_string_lossy().into_owned()))
        .filter(|value| !value.is_empty())
        .map(KeySource::Passphrase);
    let mut config = satchel_web::AppConfig::new(home.to_path_buf());
    config.transport = transport;
    config.port = port;
    config.key = key;
    config.poll = Duration::from_millis(poll_ms);
    let app = satchel_web::start(config).await?;
    if json {
        println!("{}", serde_json::json!({ "url": app.url() }));
    } else {
        println!("Satchel app: open {} in your browser", app.url());
        println!(
            "(on this computer only; the address holds a secret for this launch; Ctrl+C stops the app)"
        );
    }
    if open {
        open_browser(app.url());
    }
    app.run().await?;
    Ok(())
}

/// Asks the desktop to open `url`; says so if it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(error) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("could not open a browser ({opener}: {error}): open the address above yourself");
    }
}
