//! A conversation between two devices: a double ratchet plus its pair of one-way queues.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use crate::account::{Account, FirstContact};
use crate::crypto::dh::Hex;
use crate::crypto::kdf::{LABEL_SESSION_AD, sha256};
use crate::crypto::secret::Secret32;
use crate::envelope::queue::{QueueKeys, SendId};
use crate::envelope::{ENVELOPE_PREFIX_LEN, Envelope, MAX_PLAINTEXT_LEN, sealed};
use crate::error::{DecryptError, EncryptError, HandshakeError, StateError};
use crate::handshake::{handshake_id, pqxdh, session_seed};
use crate::identity::certificate::DeviceCertificate;
use crate::prekeys::{PrekeyBundle, PrekeyId};
use crate::ratchet::{Ratchet, RatchetConfig, message_len};

/// The largest sender-certificate slot a first contact carries.
pub const MAX_SENDER_CERTIFICATE_LEN: usize = 16 * 1024;

/// The version of the persisted session format.
pub const SESSION_STATE_VERSION: u32 = 1;

/// Names a session on both sides: derived from the initiator's identity and ephemeral
/// keys, so both devices compute the same id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Wraps 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({:?})", Hex(&self.0))
    }
}

/// The handshake data the initiator repeats (sealed to the responder's mailbox) until
/// the responder's first reply proves the session exists on the other side.
#[derive(Clone)]
struct PendingFirstContact {
    mailbox: SendId,
    peer_dh_key: [u8; 32],
    ephemeral_public: [u8; 32],
    signed_prekey_id: PrekeyId,
    kem_prekey_id: PrekeyId,
    kem_ciphertext: Vec<u8>,
    one_time_prekey_id: Option<PrekeyId>,
}

/// A session with one peer device.
///
/// * [`Session::encrypt`] returns an [`Envelope`] to deposit on the relay. Until the
///   peer has replied, envelopes are sealed first-contact envelopes to the peer's
///   mailbox (each carries the handshake, so any one of them can start the session);
///   afterwards they go to the peer's inbound queue and cost no public-key operation
///   unless the direction of the conversation turned.
/// * [`Session::decrypt`] takes envelopes fetched from [`Session::inbound_queue`]. A
///   failed decrypt leaves the session exactly as it was.
///
/// Persist the session after every successful call ([`Session::to_bytes`]); store it in
/// the same transaction as the decrypted message.
pub struct Session {
    id: SessionId,
    initiator: bool,
    local: DeviceCertificate,
    peer: DeviceCertificate,
    associated_data: [u8; 32],
    ratchet: Ratchet,
    inbound: QueueKeys,
    outbound: SendId,
    pending: Option<PendingFirstContact>,
    sender_certificate: Vec<u8>,
    config: RatchetConfig,
}

/// The session AD: a hash of both device certificates, initiator first.
fn associated_data(initiator: &DeviceCertificate, responder: &DeviceCertificate) -> [u8; 32] {
    sha256(&[LABEL_SESSION_AD, &initiator.digest(), &responder.digest()])
}

impl Session {
    /// Starts a session with the device that published `bundle` (the initiator's side of
    /// the handshake). Nothing is sent yet: the first [`Session::encrypt`] produces the
    /// first-contact envelope.
    ///
    /// # Errors
    /// [`HandshakeError`] if the bundle is this device's own or contains a key that
    /// yields no shared secret.
    pub fn initiate<R: CryptoRng + ?Sized>(
        account: &Account,
        bundle: &PrekeyBundle,
        rng: &mut R,
    ) -> Result<Self, HandshakeError> {
        if bundle.device.device_id() == account.device_id()
            && bundle.device.account_id() == account.account_id()
        {
            return Err(HandshakeError::OwnBundle);
        }
        let output = pqxdh::initiate(account.device_dh(), bundle, rng)
            .map_err(|_| HandshakeError::InvalidPeerKey)?;
        let seed = session_seed(&output.shared);
        let ratchet = Ratchet::initiator(seed.ratchet, &bundle.signed_prekey, rng)
            .map_err(|_| HandshakeError::InvalidPeerKey)?;
        let local = account.certificate().clone();
        let id = SessionId(handshake_id(
            local.device_dh_key(),
            &output.ephemeral_public,
        ));
        Ok(Self {
            id,
            initiator: true,
            associated_data: associated_data(&local, &bundle.device),
            local,
            peer: bundle.device.clone(),
            ratchet,
            inbound: QueueKeys::with_send_id(seed.initiator_inbound, rng),
            outbound: seed.responder_inbound,
            pending: Some(PendingFirstContact {
                mailbox: bundle.mailbox,
                peer_dh_key: *bundle.device.device_dh_key(),
                ephemeral_public: output.ephemeral_public,
                signed_prekey_id: bundle.signed_prekey_id,
                kem_prekey_id: bundle.kem_prekey_id,
                kem_ciphertext: output.kem_ciphertext,
                one_time_prekey_id: bundle.one_time_prekey.map(|(id, _)| id),
            }),
            sender_certificate: Vec::new(),
            config: RatchetConfig::default(),
        })
    }

    /// The responder's side: builds the session from a first contact and decrypts the
    /// ratchet message inside. Called by [`Account::accept`], which checks prekeys and
    /// replays and commits the account only if this succeeds.
    pub(crate) fn respond<R: CryptoRng + ?Sized>(
        account: &Account,
        contact: &FirstContact,
        shared: &Secret32,
        signed_prekey: crate::crypto::dh::DhKeyPair,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), DecryptError> {
        let seed = session_seed(shared);
        let local = account.certificate().clone();
        let peer = contact.initial.sender.clone();
        let mut session = Self {
            id: SessionId(contact.handshake_id),
            initiator: false,
            associated_data: associated_data(&peer, &local),
            local,
            peer,
            ratchet: Ratchet::responder(seed.ratchet, signed_prekey),
            inbound: QueueKeys::with_send_id(seed.responder_inbound, rng),
            outbound: seed.initiator_inbound,
            pending: None,
            sender_certificate: Vec::new(),
            config: RatchetConfig::default(),
        };
        let plaintext = session.decrypt_first_contact(contact)?;
        Ok((session, plaintext))
    }

    /// Encrypts one message for the peer.
    ///
    /// # Errors
    /// [`EncryptError`] if the plaintext is larger than [`MAX_PLAINTEXT_LEN`] or the
    /// chain is exhausted. The session is unchanged on error.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Envelope, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        match &self.pending {
            None => {
                let mut bytes = Envelope::start(&self.outbound, message_len(plaintext.len()));
                let prefix: [u8; ENVELOPE_PREFIX_LEN] = envelope_prefix(&self.outbound);
                self.ratchet
                    .encrypt(plaintext, &prefix, &self.associated_data, &mut bytes, rng)?;
                Ok(Envelope::from_built(bytes))
            }
            Some(pending) => {
                let pending = pending.clone();
                self.encrypt_first_contact(&pending, plaintext, rng)
            }
        }
    }

    fn encrypt_first_contact<R: CryptoRng + ?Sized>(
        &mut self,
        pending: &PendingFirstContact,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Envelope, EncryptError> {
        let prefix = envelope_prefix(&pending.mailbox);
        // The box key first: it is the only fallible step left after the ratchet
        // advances (sealing then fails only beyond 256 GiB), so an invalid peer key
        // leaves the session unchanged.
        let sealer = sealed::Sealer::new(&pending.peer_dh_key, rng)
            .map_err(|_| EncryptError::InvalidPeerKey)?;
        let mut ratchet_message = Vec::with_capacity(message_len(plaintext.len()));
        self.ratchet.encrypt(
            plaintext,
            &prefix,
            &self.associated_data,
            &mut ratchet_message,
            rng,
        )?;
        let content = pb::SealedContent {
            sender_certificate: self.sender_certificate.clone(),
            initial: Some(pb::InitialMessage {
                sender: Some(self.local.to_proto()),
                ephemeral_key: pending.ephemeral_public.to_vec(),
                signed_prekey_id: pending.signed_prekey_id,
                kem_prekey_id: pending.kem_prekey_id,
                kem_ciphertext: pending.kem_ciphertext.clone(),
                one_time_prekey_id: pending.one_time_prekey_id,
                ratchet_message,
            }),
        };
        sealer
            .seal(&pending.mailbox, &content.encode_to_vec())
            .map_err(|_| EncryptError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            })
    }

    /// Decrypts an envelope fetched from this session's inbound queue.
    ///
    /// # Errors
    /// [`DecryptError`]; the session is unchanged on error. A duplicate is reported as
    /// [`DecryptError::Duplicate`] and can be acknowledged and dropped.
    pub fn decrypt(&mut self, envelope: &Envelope) -> Result<Vec<u8>, DecryptError> {
        if envelope.send_id() != self.inbound.send_id() {
            return Err(DecryptError::WrongQueue);
        }
        let plaintext = self.ratchet.decrypt(
            envelope.body(),
            envelope.prefix(),
            &self.associated_data,
            &self.config,
        )?;
        // A message from the peer on our queue proves it holds the session.
        self.pending = None;
        Ok(plaintext)
    }

    /// Decrypts a further first-contact envelope of this session's handshake (the
    /// initiator repeats the handshake until it hears back).
    ///
    /// # Errors
    /// [`DecryptError::WrongQueue`] if the first contact belongs to another session;
    /// otherwise as [`Session::decrypt`].
    pub fn decrypt_first_contact(
        &mut self,
        contact: &FirstContact,
    ) -> Result<Vec<u8>, DecryptError> {
        if contact.session_id() != self.id || self.initiator {
            return Err(DecryptError::WrongQueue);
        }
        self.ratchet.decrypt(
            &contact.initial.ratchet_message,
            &contact.prefix,
            &self.associated_data,
            &self.config,
        )
    }

    /// This session's id (the same on both devices).
    #[must_use]
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Whether this device started the session.
    #[must_use]
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether the peer has answered, so messages go to its queue rather than its
    /// mailbox.
    #[must_use]
    pub fn is_confirmed(&self) -> bool {
        self.pending.is_none()
    }

    /// The peer device's certificate.
    #[must_use]
    pub fn peer(&self) -> &DeviceCertificate {
        &self.peer
    }

    /// The queue this device fetches the peer's messages from. Create it on the relay
    /// (send id and auth key) before the first message can arrive.
    #[must_use]
    pub fn inbound_queue(&self) -> &QueueKeys {
        &self.inbound
    }

    /// The peer's queue, where confirmed messages are deposited.
    #[must_use]
    pub fn outbound_send_id(&self) -> SendId {
        self.outbound
    }

    /// Sets the opaque sender-certificate slot carried in first-contact envelopes (the
    /// school-issued certificate chain).
    ///
    /// # Errors
    /// [`EncryptError::SenderCertificateTooLarge`] above [`MAX_SENDER_CERTIFICATE_LEN`]
    /// bytes (so that a first contact with the largest plaintext still fits in an
    /// envelope); the slot is unchanged then.
    pub fn set_sender_certificate(&mut self, certificate: Vec<u8>) -> Result<(), EncryptError> {
        if certificate.len() > MAX_SENDER_CERTIFICATE_LEN {
            return Err(EncryptError::SenderCertificateTooLarge {
                len: certificate.len(),
                max: MAX_SENDER_CERTIFICATE_LEN,
            });
        }
        self.sender_certificate = certificate;
        Ok(())
    }

    /// Replaces the ratchet bounds (not persisted; apply after every load).
    pub fn set_config(&mut self, config: RatchetConfig) {
        self.config = config;
    }

    /// Number of skipped message keys stored (for diagnostics and tests).
    #[must_use]
    pub fn skipped_message_keys(&self) -> usize {
        self.ratchet.skipped_len()
    }

    pub(crate) fn to_proto(&self) -> pb::SessionState {
        pb::SessionState {
            version: SESSION_STATE_VERSION,
            session_id: self.id.0.to_vec(),
            initiator: self.initiator,
            local: Some(self.local.to_proto()),
            peer: Some(self.peer.to_proto()),
            associated_data: self.associated_data.to_vec(),
            ratchet: Some(self.ratchet.to_proto()),
            inbound: Some(pb::QueueKeys {
                send_id: self.inbound.send_id().as_bytes().to_vec(),
                auth_secret: self.inbound.auth_secret().as_bytes().to_vec(),
            }),
            outbound_send_id: self.outbound.as_bytes().to_vec(),
            pending: self.pending.as_ref().map(|p| pb::PendingFirstContact {
                mailbox_send_id: p.mailbox.as_bytes().to_vec(),
                peer_dh_key: p.peer_dh_key.to_vec(),
                ephemeral_key: p.ephemeral_public.to_vec(),
                signed_prekey_id: p.signed_prekey_id,
                kem_prekey_id: p.kem_prekey_id,
                kem_ciphertext: p.kem_ciphertext.clone(),
                one_time_prekey_id: p.one_time_prekey_id,
            }),
            sender_certificate: self.sender_certificate.clone(),
        }
    }

    /// Serialises the session (a versioned protobuf `SessionState`). The bytes contain
    /// secret keys: store them encrypted at rest, or use
    /// [`crate::storage::export::export_session`].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// Loads a session saved by [`Session::to_bytes`], with the default ratchet bounds.
    ///
    /// # Errors
    /// [`StateError`] if the bytes are corrupted or from an unknown version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let state = pb::SessionState::decode(bytes)
            .map_err(|_| StateError::Malformed { field: "encoding" })?;
        Self::from_proto(&state)
    }

    pub(crate) fn from_proto(state: &pb::SessionState) -> Result<Self, StateError> {
        // Version 0 is an absent field: not state at all, rather than a newer one.
        if state.version == 0 {
            return Err(StateError::Malformed { field: "version" });
        }
        if state.version != SESSION_STATE_VERSION {
            return Err(StateError::UnsupportedVersion {
                found: state.version,
                supported: SESSION_STATE_VERSION,
            });
        }
        let malformed = |field| StateError::Malformed { field };
        let certificate = |proto: &Option<pb::DeviceCertificate>, field| {
            proto.as_ref().ok_or(malformed(field)).and_then(|c| {
                DeviceCertificate::from_proto_unverified(c).map_err(|_| malformed(field))
            })
        };
        let send_id = |bytes: &[u8], field| SendId::from_slice(bytes).ok_or(malformed(field));
        let key32 = |bytes: &[u8], field| -> Result<[u8; 32], StateError> {
            bytes.try_into().map_err(|_| malformed(field))
        };
        let config = RatchetConfig::default();
        let inbound = state.inbound.as_ref().ok_or(malformed("inbound"))?;
        let pending = match &state.pending {
            None => None,
            Some(p) => Some(PendingFirstContact {
                mailbox: send_id(&p.mailbox_send_id, "pending.mailbox_send_id")?,
                peer_dh_key: key32(&p.peer_dh_key, "pending.peer_dh_key")?,
                ephemeral_public: key32(&p.ephemeral_key, "pending.ephemeral_key")?,
                signed_prekey_id: p.signed_prekey_id,
                kem_prekey_id: p.kem_prekey_id,
                kem_ciphertext: p.kem_ciphertext.clone(),
                one_time_prekey_id: p.one_time_prekey_id,
            }),
        };
        Ok(Self {
            id: SessionId(
                state
                    .session_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| malformed("session_id"))?,
            ),
            initiator: state.initiator,
            local: certificate(&state.local, "local")?,
            peer: certificate(&state.peer, "peer")?,
            associated_data: key32(&state.associated_data, "associated_data")?,
            ratchet: Ratchet::from_proto(state.ratchet.as_ref().ok_or(malformed("ratchet"))?)?,
            inbound: QueueKeys::from_parts(
                send_id(&inbound.send_id, "inbound.send_id")?,
                &Secret32::from_slice(&inbound.auth_secret)
                    .ok_or(malformed("inbound.auth_secret"))?,
            ),
            outbound: send_id(&state.outbound_send_id, "outbound_send_id")?,
            pending,
            sender_certificate: state.sender_certificate.clone(),
            config,
        })
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("initiator", &self.initiator)
            .field("confirmed", &self.pending.is_none())
            .field("peer", &self.peer.device_id())
            .field("inbound", &self.inbound.send_id())
            .field("outbound", &self.outbound)
            .finish_non_exhaustive()
    }
}

fn envelope_prefix(send_id: &SendId) -> [u8; ENVELOPE_PREFIX_LEN] {
    let mut prefix = [0u8; ENVELOPE_PREFIX_LEN];
    let (version, id) = prefix.split_at_mut(1);
    version.copy_from_slice(&[crate::envelope::ENVELOPE_VERSION]);
    id.copy_from_slice(send_id.as_bytes());
    prefix
}

/// Of two sessions with the same peer device (both sides initiated at once), the one
/// both devices keep sending on: the lower session id. Both devices compute the same
/// answer, so the conversation converges on one session; the other keeps decrypting
/// whatever was already in flight.
#[must_use]
pub fn preferred_session(a: SessionId, b: SessionId) -> SessionId {
    a.min(b)
}
