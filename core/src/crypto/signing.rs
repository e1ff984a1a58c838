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

/// A verifying key parsed once and kept decompressed, for keys that verify many
/// signatures (group sender keys). Refuses small-order ("weak") keys on parsing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CachedVerifyingKey(VerifyingKey);

impl CachedVerifyingKey {
    pub(crate) fn from_bytes(public: &[u8; 32]) -> Result<Self, BadSignature> {
        let key = VerifyingKey::from_bytes(public).map_err(|_| BadSignature)?;
        if key.is_weak() {
            return Err(BadSignature);
        }
        Ok(Self(key))
    }

    pub(crate) fn to_bytes(self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// `verify_strict`, as [`verify`], without decompressing the key again.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        let signature = Signature::from_slice(signature).map_err(|_| BadSignature)?;
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| BadSignature)
    }
}

impl std::fmt::Debug for CachedVerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CachedVerifyingKey({:?})",
            super::dh::Hex(self.0.as_bytes())
        )
    }
}

/// Verifies many signatures at once (ed25519-dalek's batch verification, one
/// multi-scalar multiplication). `Ok` only if every signature verifies; on `Err` the
/// caller verifies one at a time to find the bad ones. Keys are non-weak
/// ([`CachedVerifyingKey`]) and every `R` is checked not to be of small order, as
/// `verify_strict` does; what remains different is documented in PROTOCOL §13.7.
pub(crate) fn verify_batch(
    messages: &[&[u8]],
    signatures: &[[u8; SIGNATURE_LEN]],
    keys: &[CachedVerifyingKey],
) -> Result<(), BadSignature> {
    if messages.len() != signatures.len() || keys.len() != signatures.len() {
        return Err(BadSignature);
    }
    let mut parsed = Vec::with_capacity(signatures.len());
    for signature in signatures {
        let (r, _) = signature.split_at(32);
        let r: [u8; 32] = r.try_into().map_err(|_| BadSignature)?;
        // verify_strict refuses a small-order R; the batch equation would not.
        let point = curve25519_dalek::edwards::CompressedEdwardsY(r)
            .decompress()
            .ok_or(BadSignature)?;
        if point.is_small_order() {
            return Err(BadSignature);
        }
        parsed.push(Signature::from_bytes(signature));
    }
    let keys: Vec<VerifyingKey> = keys.iter().map(|key| key.0).collect();
    ed25519_dalek::verify_batch(messages, &parsed, &keys).map_err(|_| BadSignature)
}
