//! X25519 key pairs with the public half cached, so that no operation recomputes it.

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey, StaticSecret};

use super::secret::Secret32;

/// An X25519 key pair. The public key is computed once, at generation or load.
#[derive(Clone)]
pub(crate) struct DhKeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

/// A Diffie-Hellman output was all zeros: the peer sent a low-order point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NonContributory;

impl DhKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = StaticSecret::random_from_rng(rng);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// Rebuilds a key pair from a stored secret, recomputing the public key.
    pub(crate) fn from_secret(secret: [u8; 32]) -> Self {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// Rebuilds a key pair from a stored secret and its cached public key.
    ///
    /// Used when loading persisted state; the pair was consistent when stored and the
    /// blob is authenticated (encrypted export) or trusted local storage.
    pub(crate) fn from_parts(secret: [u8; 32], public: [u8; 32]) -> Self {
        Self {
            secret: StaticSecret::from(secret),
            public: PublicKey::from(public),
        }
    }

    pub(crate) fn public(&self) -> &[u8; 32] {
        self.public.as_bytes()
    }

    pub(crate) fn secret_bytes(&self) -> Secret32 {
        Secret32::new(self.secret.to_bytes())
    }

    /// X25519(self, their_public); refuses an all-zero (non-contributory) result.
    pub(crate) fn agree(&self, their_public: &[u8; 32]) -> Result<Secret32, NonContributory> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(*their_public));
        if !shared.was_contributory() {
            return Err(NonContributory);
        }
        Ok(Secret32::new(shared.to_bytes()))
    }
}

impl std::fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("public", &Hex(self.public.as_bytes()))
            .finish_non_exhaustive()
    }
}

/// Formats public bytes as lowercase hex in `Debug` output.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl std::fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}
