//! Where the CLI's store passphrase comes from: `SATCHEL_PASSPHRASE`, or a prompt on
//! the terminal (asked twice when a new profile is created).

use std::io::IsTerminal as _;
use std::path::Path;

use satchel_client::store::keyfile::KeySource;
use zeroize::Zeroizing;

/// The environment variable that holds the passphrase (for scripts and tests).
pub const ENV: &str = "SATCHEL_PASSPHRASE";

/// Why no passphrase could be had.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// Not set and no terminal to ask on.
    #[error(
        "the profile is protected by a passphrase: set {ENV}, or run satchel in a terminal to be asked"
    )]
    Missing,
    /// The terminal could not be read.
    #[error("cannot read the passphrase from the terminal: {0}")]
    Terminal(std::io::Error),
    /// The two entries differ.
    #[error("the two passphrases differ: nothing was created, try again")]
    Mismatch,
    /// Empty.
    #[error(
        "the passphrase is empty: choose one (a few words are easy to remember and hard to guess)"
    )]
    Empty,
}

/// The key source for the profile in `home`: the environment, or a prompt.
pub fn key_source(home: &Path) -> Result<KeySource, PassphraseError> {
    if let Some(value) = std::env::var_os(ENV) {
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        if value.is_empty() {
            return Err(PassphraseError::Empty);
        }
        return Ok(KeySource::Passphrase(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(PassphraseError::Missing);
    }
    let new = !home.join("store.key").exists();
    let prompt = if new {
        "Choose a passphrase for this Satchel profile: "
    } else {
        "Passphrase for this Satchel profile: "
    };
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).map_err(PassphraseError::Terminal)?);
    if first.is_empty() {
        return Err(PassphraseError::Empty);
    }
    if new {
        let second = Zeroizing::new(
            rpassword::prompt_password("Type it again: ").map_err(PassphraseError::Terminal)?,
        );
        if *first != *second {
            return Err(PassphraseError::Mismatch);
        }
    }
    Ok(KeySource::Passphrase(first))
}
