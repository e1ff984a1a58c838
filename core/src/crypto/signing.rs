//! Ed25519 signatures via ed25519-dalek; verification is always `verify_strict`.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;

use super::secret::Secret32;

/// Length of an Ed25519 signature.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// An Ed25519 signing key with its verifying key cached.
#[derive(Clone)]
pub(crate) struct SigningKeyPair {
    signing: SigningKey,
    verifying: VerifyingKey,
}

/// A signature or public key did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadSignature;

impl SigningKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let signing = SigningKey::generate(rng);
        let verifying = signing.verifying_key();
        Self { signing, verifying }
    }

    pub(crate) fn from_secret(secret: &Secret32) -> Self {
        let signing = SigningKey::from_bytes(secret.as_bytes());
        let verifying = signing.verifying_key();
        Self { signing, verifying }
    }

    pub(crate) fn secret_bytes(&self) -> Secret32 {
        Secret32::new(self.signing.to_bytes())
    }

    pub(crate) fn public(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("public", &super::dh::Hex(self.verifying.as_bytes()))
            .finish_non_exhaustive()
    }
}

/// Verifies `signature` over `message` by the public key `public` (strict: rejects
/// small-order keys and non-canonical signatures).
pub(crate) fn verify(
    public: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> Result<(), BadSignature> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| BadSignature)?;
    let signature = Signature::from_slice(signature).map_err(|_| BadSignature)?;
    key.verify_strict(message, &signature)
        .map_err(|_| BadSignature)
}
