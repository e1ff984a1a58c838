//! ML-KEM-768 (FIPS 203) via the `ml-kem` crate.

use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport, TryKeyInit};
use ml_kem::{DecapsulationKey768, EncapsulationKey768, MlKem768, Seed};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::secret::Secret32;

/// Encoded encapsulation-key length for ML-KEM-768.
pub(crate) const PUBLIC_KEY_LEN: usize = 1184;
/// Ciphertext length for ML-KEM-768.
pub(crate) const CIPHERTEXT_LEN: usize = 1088;
/// Seed length (d || z) from which a decapsulation key is expanded.
pub(crate) const SEED_LEN: usize = 64;

/// A decapsulation key, stored as its 64-byte seed and expanded on load.
pub(crate) struct KemKeyPair {
    seed: Zeroizing<[u8; SEED_LEN]>,
    decapsulation: DecapsulationKey768,
}

/// An encapsulation key that parsed as a valid ML-KEM-768 key.
#[derive(Clone)]
pub(crate) struct KemPublicKey(EncapsulationKey768);

/// Bytes that are not a valid ML-KEM-768 key or ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidKem;

impl KemKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        rng.fill_bytes(seed.as_mut_slice());
        Self::from_seed(&seed)
    }

    pub(crate) fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let decapsulation = DecapsulationKey768::from_seed(Seed::from(*seed));
        Self {
            seed: Zeroizing::new(*seed),
            decapsulation,
        }
    }

    pub(crate) fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    pub(crate) fn public_bytes(&self) -> Vec<u8> {
        self.decapsulation.encapsulation_key().to_bytes().to_vec()
    }

    /// Decapsulates; ML-KEM's implicit rejection means a wrong ciphertext yields a
    /// pseudorandom key rather than an error, which the AEAD then rejects.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Secret32, InvalidKem> {
        let shared = self
            .decapsulation
            .decapsulate_slice(ciphertext)
            .map_err(|_| InvalidKem)?;
        Secret32::from_slice(shared.as_slice()).ok_or(InvalidKem)
    }
}

impl Clone for KemKeyPair {
    fn clone(&self) -> Self {
        Self::from_seed(&self.seed)
    }
}

impl KemPublicKey {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidKem> {
        EncapsulationKey768::new_from_slice(bytes)
            .map(Self)
            .map_err(|_| InvalidKem)
    }

    pub(crate) fn encapsulate<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> (Vec<u8>, Secret32) {
        let (ciphertext, shared) = self.0.encapsulate_with_rng(rng);
        let mut key = [0u8; 32];
        key.copy_from_slice(shared.as_slice());
        (ciphertext.to_vec(), Secret32::new(key))
    }
}

// Keeps the type parameter visible to readers: this module is ML-KEM-768 only.
const _: fn() = || {
    let _ = std::marker::PhantomData::<MlKem768>;
};
