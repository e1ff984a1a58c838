//! The key agreement itself, and what each side derives from its result.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::dh::DhKeyPair;
use crate::crypto::kdf::{LABEL_HANDSHAKE_ID, LABEL_PQXDH, LABEL_SESSION_INIT, hkdf, sha256};
use crate::crypto::kem::KemKeyPair;
use crate::crypto::secret::Secret32;
use crate::prekeys::PrekeyBundle;
use crate::ratchet::RatchetSeed;

/// The 32 0xFF bytes PQXDH prepends to the key material (a curve25519 "F" value).
const F: [u8; 32] = [0xFF; 32];

/// Any DH output was all zeros, or the KEM ciphertext was not ML-KEM-768.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AgreementFailed;

/// What the initiator sends besides its certificate.
pub(crate) struct InitiatorOutput {
    pub(crate) shared: Secret32,
    pub(crate) ephemeral_public: [u8; 32],
    pub(crate) kem_ciphertext: Vec<u8>,
}

fn derive_sk(dhs: &[&Secret32], kem_shared: &Secret32) -> Secret32 {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (dhs.len() + 2)));
    ikm.extend_from_slice(&F);
    for dh in dhs {
        ikm.extend_from_slice(dh.as_bytes());
    }
    ikm.extend_from_slice(kem_shared.as_bytes());
    Secret32::new(hkdf::<32>(&[0u8; 32], &ikm, LABEL_PQXDH))
}

/// The initiator's side: every DH and the encapsulation.
pub(crate) fn initiate<R: CryptoRng + ?Sized>(
    identity: &DhKeyPair,
    bundle: &PrekeyBundle,
    rng: &mut R,
) -> Result<InitiatorOutput, AgreementFailed> {
    let ephemeral = DhKeyPair::generate(rng);
    let dh1 = identity
        .agree(&bundle.signed_prekey)
        .map_err(|_| AgreementFailed)?;
    let dh2 = ephemeral
        .agree(bundle.device.device_dh_key())
        .map_err(|_| AgreementFailed)?;
    let dh3 = ephemeral
        .agree(&bundle.signed_prekey)
        .map_err(|_| AgreementFailed)?;
    let dh4 = bundle
        .one_time_prekey
        .map(|(_, key)| ephemeral.agree(&key).map_err(|_| AgreementFailed))
        .transpose()?;
    let (kem_ciphertext, kem_shared) = bundle.kem_prekey.encapsulate(rng);
    let mut dhs = vec![&dh1, &dh2, &dh3];
    if let Some(dh4) = &dh4 {
        dhs.push(dh4);
    }
    Ok(InitiatorOutput {
        shared: derive_sk(&dhs, &kem_shared),
        ephemeral_public: *ephemeral.public(),
        kem_ciphertext,
    })
}

/// The responder's side, mirroring [`initiate`].
pub(crate) fn respond(
    identity: &DhKeyPair,
    signed_prekey: &DhKeyPair,
    kem_prekey: &KemKeyPair,
    one_time_prekey: Option<&DhKeyPair>,
    initiator_identity: &[u8; 32],
    ephemeral_public: &[u8; 32],
    kem_ciphertext: &[u8],
) -> Result<Secret32, AgreementFailed> {
    let dh1 = signed_prekey
        .agree(initiator_identity)
        .map_err(|_| AgreementFailed)?;
    let dh2 = identity
        .agree(ephemeral_public)
        .map_err(|_| AgreementFailed)?;
    let dh3 = signed_prekey
        .agree(ephemeral_public)
        .map_err(|_| AgreementFailed)?;
    let dh4 = one_time_prekey
        .map(|key| key.agree(ephemeral_public).map_err(|_| AgreementFailed))
        .transpose()?;
    let kem_shared = kem_prekey
        .decapsulate(kem_ciphertext)
        .map_err(|_| AgreementFailed)?;
    let mut dhs = vec![&dh1, &dh2, &dh3];
    if let Some(dh4) = &dh4 {
        dhs.push(dh4);
    }
    Ok(derive_sk(&dhs, &kem_shared))
}

/// Everything a new session takes from `SK`: the ratchet's root and header keys. The
/// queue send ids are *not* derived from `SK` (version 1 did that): each device draws
/// its own inbound send id at random and announces it in a session frame, so the peer
/// cannot know it before the owner created the queue (docs/PROTOCOL.md §4.2, §8).
pub(crate) struct SessionSeed {
    pub(crate) ratchet: RatchetSeed,
}

/// Length of the session-init HKDF output: root key || initiator header key ||
/// responder header key.
pub(crate) const SESSION_SEED_LEN: usize = 96;

/// `HKDF(salt = 0^32, ikm = SK, info = "Satchel session init v2")`, 96 bytes: root key
/// || initiator header key || responder header key.
pub(crate) fn session_seed(shared: &Secret32) -> SessionSeed {
    let okm = Zeroizing::new(hkdf::<SESSION_SEED_LEN>(
        &[0u8; 32],
        shared.as_bytes(),
        LABEL_SESSION_INIT,
    ));
    let secret = |range: std::ops::Range<usize>| {
        okm.get(range)
            .and_then(Secret32::from_slice)
            .unwrap_or_else(|| Secret32::new([0u8; 32]))
    };
    SessionSeed {
        ratchet: RatchetSeed {
            root: secret(0..32),
            initiator_header_key: secret(32..64),
            responder_header_key: secret(64..96),
        },
    }
}

/// `SHA-256("Satchel handshake id v1" || IK_A || EK_A)[..16]`: names the handshake (and
/// the session it creates) on both sides, and detects replays.
pub(crate) fn handshake_id(initiator_identity: &[u8; 32], ephemeral_public: &[u8; 32]) -> [u8; 16] {
    let digest = sha256(&[LABEL_HANDSHAKE_ID, initiator_identity, ephemeral_public]);
    let mut id = [0u8; 16];
    id.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    id
}
