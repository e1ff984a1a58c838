//! `satchel-relay`: the command-line entry point. See `satchel-relay --help`.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args as _, CommandFactory as _, FromArgMatches as _};
use satchel_relay::{Config, TlsArgs, TlsConfig, serve_with_tls};
use tracing_subscriber::EnvFilter;

/// Parses `Config` plus the TLS options (`--tls-cert`, `--tls-key`).
fn parse_args() -> (Config, TlsArgs) {
    let matches = TlsArgs::augment_args(Config::command()).get_matches();
    let parsed = Config::from_arg_matches(&matches)
        .and_then(|config| Ok((config, TlsArgs::from_arg_matches(&matches)?)));
    match parsed {
        Ok(parsed) => parsed,
        Err(error) => error.exit(),
    }
}

fn main() -> ExitCode {
    let (config, tls) = parse_args();
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!(
                "satchel-relay: invalid --log filter `{}`: {error}",
                config.log
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    // Read the certificate and key before anything else, so a bad file fails fast.
    let tls = match tls.load() {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("satchel-relay: {error}");
            return ExitCode::FAILURE;
        }
    };
    if config.check_config {
        println!(
            "tls: {}",
            if tls.is_some() {
                "certificate and key read"
            } else {
                "off (plain HTTP)"
            }
        );
        let findings = satchel_relay::check::check(&config);
        for finding in &findings {
            println!(
                "{}: {}",
                if finding.ok { "ok" } else { "FAILED" },
                finding.text
            );
        }
        return if findings.iter().all(|finding| finding.ok) {
            println!("configuration OK");
            ExitCode::SUCCESS
        } else {
            println!("configuration has problems (see FAILED above)");
            ExitCode::FAILURE
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("satchel-relay: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, tls))
}

async fn run(config: Config, tls: Option<TlsConfig>) -> ExitCode {
    let relay = match serve_with_tls(config, tls).await {
        Ok(relay) => relay,
        Err(error) => {
            eprintln!("satchel-relay: {error}");
            return ExitCode::FAILURE;
        }
    };
    #[cfg(unix)]
    let sigterm = listen_for_sigterm();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", relay.local_addr())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("could not print the listen address on standard output");
    }
    drop(stdout);
    // The line above stays `listening on ADDR` (scripts parse it); the scheme is logged.
    if relay.is_tls() {
        tracing::info!("serving HTTPS: clients connect with https://");
    } else {
        tracing::info!(
            "serving plain HTTP: clients accept http:// only for 127.0.0.1/localhost; \
             for other machines use --tls-cert/--tls-key or a TLS reverse proxy"
        );
    }
    shutdown_signal(
        #[cfg(unix)]
        sigterm,
    )
    .await;
    tracing::info!("shutting down: finishing requests in progress");
    relay.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Listens for SIGTERM from now on (before the relay says it is listening, so a
/// supervisor that stops it right after start is not too early).
#[cfg(unix)]
fn listen_for_sigterm() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            None
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal(#[cfg(unix)] sigterm: Option<tokio::signal::unix::Signal>) {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match sigterm {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
