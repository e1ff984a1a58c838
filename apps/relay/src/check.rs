//! `satchel-relay --check-config`: everything a start would check, without serving or
//! changing anything.

use std::net::SocketAddr;

use crate::Config;
use crate::store::{StoreError, postgres::PostgresStore, sqlite};

/// One finding: what was checked and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Passed (or only a warning).
    pub ok: bool,
    /// What the check found, for a person.
    pub text: String,
}

impl Finding {
    fn ok(text: String) -> Self {
        Self { ok: true, text }
    }
    fn failed(text: String) -> Self {
        Self { ok: false, text }
    }
}

/// Runs the checks that need no TLS files (those are read before, by `main`).
/// Blocking: call outside the async runtime.
#[must_use]
pub fn check(config: &Config) -> Vec<Finding> {
    let mut findings = vec![bindable("listen address", config.listen)];
    if let Some(addr) = config.metrics_listen {
        findings.push(bindable("metrics address", addr));
    }
    let database = match &config.database {
        Some(url) => PostgresStore::inspect(url),
        None => sqlite::inspect(&config.data),
    };
    findings.push(match database {
        Ok(text) => Finding::ok(format!("database: {text}")),
        Err(StoreError::Unavailable(detail)) => Finding::failed(format!(
            "database: cannot reach it ({detail}); check the URL, that PostgreSQL runs and \
             accepts this user"
        )),
        Err(error) => Finding::failed(format!("database: {error}")),
    });
    findings.push(Finding::ok(if config.registration_token.is_some() {
        "registration: open to holders of the token".to_owned()
    } else {
        "registration: closed (no token; existing schools keep working)".to_owned()
    }));
    findings
}

/// Whether `addr` can be bound; in use counts as a warning (the running relay may hold
/// it while its next configuration is checked).
fn bindable(what: &str, addr: SocketAddr) -> Finding {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Finding::ok(format!("{what}: {addr} can be bound")),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Finding::ok(format!(
            "{what}: {addr} is in use now (by the running relay?); the new start needs it free"
        )),
        Err(error) => Finding::failed(format!("{what}: cannot bind {addr}: {error}")),
    }
}
