//! The PQXDH-style hybrid handshake (Signal's PQXDH specification, adapted).
//!
//! The initiator A, holding the responder B's verified [`crate::PrekeyBundle`], computes
//!
//! ```text
//! DH1 = X25519(IK_A, SPK_B)    DH2 = X25519(EK_A, IK_B)    DH3 = X25519(EK_A, SPK_B)
//! DH4 = X25519(EK_A, OPK_B)    (only if the bundle had a one-time prekey)
//! (CT, SS) = ML-KEM-768.Encaps(PQPK_B)
//! SK = HKDF-SHA256(salt = 0^32, ikm = 0xFF^32 || DH1 || DH2 || DH3 [|| DH4] || SS,
//!                  info = "Satchel_PQXDH_X25519_SHA-256_ML-KEM-768_v1")
//! ```
//!
//! where IK are the devices' certified X25519 keys. `SK` then seeds the double ratchet's
//! root key and its two initial header keys ([`session_seed`]); it does *not* give the
//! queue send ids: each device draws its inbound send id at random and announces it
//! inside the ratchet (a session frame, `crate::session`). The initial message carries
//! A's certificate, EK_A, the prekey ids and CT; it travels inside a sealed
//! first-contact envelope together with the first ratchet message, whose frame
//! announces A's inbound send id.

pub(crate) mod initial;
pub(crate) mod pqxdh;

pub(crate) use pqxdh::{handshake_id, session_seed};
