//! A conversation between two devices: a double ratchet plus its pair of one-way queues.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use crate::account::{Account, FirstContact};
use crate::crypto::dh::Hex;
use crate::crypto::kdf::{LABEL_SESSION_AD, sha256};
use crate::crypto::secret::Secret32;
use crate::envelope::queue::{QUEUE_ID_LEN, QueueKeys, SendId};
use crate::envelope::{ENVELOPE_PREFIX_LEN, Envelope, MAX_PLAINTEXT_LEN, sealed};
use crate::error::{DecryptError, EncryptError, HandshakeError, StateError};
use crate::handshake::{handshake_id, pqxdh, session_seed};
use crate::identity::certificate::DeviceCertificate;
use crate::prekeys::{PrekeyBundle, PrekeyId};
use crate::ratchet::{Ratchet, RatchetConfig, message_len};

/// The largest sender-certificate slot a first contact carries.
pub const MAX_SENDER_CERTIFICATE_LEN: usize = 16 * 1024;

/// The version of the persisted session format. Version 2 stores the announcement
/// state (random inbound send ids, optional outbound send id); version 1 states are
/// refused with [`StateError::Obsolete`] (`docs/PROTOCOL.md` §9).
pub const SESSION_STATE_VERSION: u32 = 2;

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
/// the responder's first reply announces the responder's inbound send id.
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

/// Where this device's messages go.
#[derive(Clone)]
enum Outbound {
    /// The initiator before the responder announced its inbound send id: every message
    /// is a sealed first contact to the responder's mailbox.
    Pending(PendingFirstContact),
    /// The peer's inbound queue, as the peer announced it. The first announcement is
    /// final (`docs/PROTOCOL.md` §4.5).
    Queue(SendId),
}

/// A session with one peer device.
///
/// * Each device chooses its own inbound send id at random ([`Session::inbound_queue`])
///   and announces it to the peer inside the encrypted messages it sends, until the
///   peer has sent a message on it ([`Session::is_announcing`]). No one else ever
///   learns it from the handshake, so create the queue on the relay before depositing
///   the first message that announces it.
/// * [`Session::encrypt`] returns an [`Envelope`] to deposit on the relay. Until the
///   initiator has learned the responder's send id (from the responder's first
///   message), envelopes are sealed first-contact envelopes to the peer's mailbox (each
///   carries the handshake, so any one of them can start the session); afterwards they
///   go to the peer's inbound queue ([`Session::outbound_send_id`]) and cost no
///   public-key operation unless the direction of the conversation turned.
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
    outbound: Outbound,
    /// Whether the frames this device sends on the peer's queue carry its inbound send
    /// id. First contacts always carry it.
    announcing: bool,
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
    /// first-contact envelope. The inbound queue's send id and key are drawn from `rng`;
    /// create the queue on the relay before depositing the first contact, which
    /// announces it.
    ///
    /// # Errors
    /// [`HandshakeError`] if the bundle is this device's own or contains a key that
    /// yields no shared secret.
    pub fn initiate<R: CryptoRng + ?Sized>(
        account: &Account,
        bundle: &PrekeyBundle,
        rng: &mut R,
    ) -> Result<Self, HandshakeError> {
        Self::initiate_with_secret(account, bundle, rng).map(|(session, _)| session)
    }

    /// [`Session::initiate`], also returning the handshake secret `SK` (for the
    /// known-answer vectors only).
    pub(crate) fn initiate_with_secret<R: CryptoRng + ?Sized>(
        account: &Account,
        bundle: &PrekeyBundle,
        rng: &mut R,
    ) -> Result<(Self, Secret32), HandshakeError> {
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
        // Our own inbound queue: a random send id, announced in every first contact.
        let inbound = QueueKeys::generate(rng);
        let local = account.certificate().clone();
        let id = SessionId(handshake_id(
            local.device_dh_key(),
            &output.ephemeral_public,
        ));
        let session = Self {
            id,
            initiator: true,
            associated_data: associated_data(&local, &bundle.device),
            local,
            peer: bundle.device.clone(),
            ratchet,
            inbound,
            outbound: Outbound::Pending(PendingFirstContact {
                mailbox: bundle.mailbox,
                peer_dh_key: *bundle.device.device_dh_key(),
                ephemeral_public: output.ephemeral_public,
                signed_prekey_id: bundle.signed_prekey_id,
                kem_prekey_id: bundle.kem_prekey_id,
                kem_ciphertext: output.kem_ciphertext,
                one_time_prekey_id: bundle.one_time_prekey.map(|(id, _)| id),
            }),
            announcing: true,
            sender_certificate: Vec::new(),
            config: RatchetConfig::default(),
        };
        Ok((session, output.shared))
    }

    /// The responder's side: builds the session from a first contact and decrypts the
    /// ratchet message inside, whose frame must announce the initiator's inbound send
    /// id. The responder's own inbound send id and queue key are drawn from `rng`.
    /// Called by [`Account::accept`], which checks prekeys and replays and commits the
    /// account only if this succeeds.
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
        let associated_data = associated_data(&peer, &local);
        let config = RatchetConfig::default();
        // Our own inbound queue: a random send id that nobody knows yet; we announce it
        // in every message we send until the peer has used it.
        let inbound = QueueKeys::generate(rng);
        let mut ratchet = Ratchet::responder(seed.ratchet, signed_prekey);
        let (frame, reply) = ratchet.decrypt(
            &contact.initial.ratchet_message,
            &contact.prefix,
            &associated_data,
            &config,
            frame::parse_first_contact,
        )?;
        let session = Self {
            id: SessionId(contact.handshake_id),
            initiator: false,
            associated_data,
            local,
            peer,
            ratchet,
            inbound,
            outbound: Outbound::Queue(reply),
            announcing: true,
            sender_certificate: Vec::new(),
            config,
        };
        Ok((session, frame::payload(frame, frame::ANNOUNCE_HEADER_LEN)))
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
        // First contacts always announce: any one of them may be the one that starts
        // the session on the other side.
        let announce = self.announcing || matches!(self.outbound, Outbound::Pending(_));
        let header = if announce {
            frame::announce_header(&self.inbound.send_id())
        } else {
            frame::payload_header()
        };
        self.encrypt_parts(&[header.as_bytes(), plaintext], rng)
    }

    /// Encrypts a raw session frame, valid or not (for tests, fuzzing and vectors only).
    pub(crate) fn encrypt_frame<R: CryptoRng + ?Sized>(
        &mut self,
        frame: &[u8],
        rng: &mut R,
    ) -> Result<Envelope, EncryptError> {
        let max = MAX_PLAINTEXT_LEN + frame::ANNOUNCE_HEADER_LEN;
        if frame.len() > max {
            return Err(EncryptError::PlaintextTooLarge {
                len: frame.len(),
                max,
            });
        }
        self.encrypt_parts(&[frame], rng)
    }

    /// Encrypts the frame `parts[0] || parts[1] || …` to the peer's queue, or as a first
    /// contact while the outbound send id is unknown.
    fn encrypt_parts<R: CryptoRng + ?Sized>(
        &mut self,
        parts: &[&[u8]],
        rng: &mut R,
    ) -> Result<Envelope, EncryptError> {
        match &self.outbound {
            Outbound::Queue(outbound) => {
                let outbound = *outbound;
                let frame_len = parts.iter().map(|part| part.len()).sum();
                let mut bytes = Envelope::start(&outbound, message_len(frame_len));
                let prefix: [u8; ENVELOPE_PREFIX_LEN] = envelope_prefix(&outbound);
                self.ratchet
                    .encrypt(parts, &prefix, &self.associated_data, &mut bytes, rng)?;
                Ok(Envelope::from_built(bytes))
            }
            Outbound::Pending(pending) => {
                let pending = pending.clone();
                self.encrypt_first_contact(&pending, parts, rng)
            }
        }
    }

    fn encrypt_first_contact<R: CryptoRng + ?Sized>(
        &mut self,
        pending: &PendingFirstContact,
        parts: &[&[u8]],
        rng: &mut R,
    ) -> Result<Envelope, EncryptError> {
        let frame_len: usize = parts.iter().map(|part| part.len()).sum();
        let prefix = envelope_prefix(&pending.mailbox);
        // The box key first: it is the only fallible step left after the ratchet
        // advances (sealing then fails only beyond 256 GiB), so an invalid peer key
        // leaves the session unchanged.
        let sealer = sealed::Sealer::new(&pending.peer_dh_key, rng)
            .map_err(|_| EncryptError::InvalidPeerKey)?;
        let mut ratchet_message = Vec::with_capacity(message_len(frame_len));
        self.ratchet.encrypt(
            parts,
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
                len: frame_len,
                max: MAX_PLAINTEXT_LEN,
            })
    }

    /// Decrypts an envelope fetched from this session's inbound queue and returns the
    /// application payload of its session frame.
    ///
    /// The message proves that the peer knows this device's inbound send id, so the
    /// session stops announcing it. If the frame announces the peer's inbound send id
    /// and this initiator did not know it yet, it becomes the outbound send id and the
    /// session is confirmed. A later announcement is ignored: the first is final.
    ///
    /// # Errors
    /// [`DecryptError`]; the session is unchanged on error. A duplicate is reported as
    /// [`DecryptError::Duplicate`] and can be acknowledged and dropped. A message that
    /// authenticates but whose session frame is invalid (empty, unknown kind,
    /// truncated send id) is [`DecryptError::Malformed`].
    pub fn decrypt(&mut self, envelope: &Envelope) -> Result<Vec<u8>, DecryptError> {
        if envelope.send_id() != self.inbound.send_id() {
            return Err(DecryptError::WrongQueue);
        }
        let (frame, header) = self.ratchet.decrypt(
            envelope.body(),
            envelope.prefix(),
            &self.associated_data,
            &self.config,
            frame::parse,
        )?;
        // Commit. Only the peer can produce a message that authenticates, and it could
        // deposit it only if it knew our inbound send id: stop announcing it.
        self.announcing = false;
        if let (Outbound::Pending(_), Some(reply)) = (&self.outbound, header.reply_send_id) {
            self.outbound = Outbound::Queue(reply);
        }
        Ok(frame::payload(frame, header.len()))
    }

    /// Decrypts a further first-contact envelope of this session's handshake (the
    /// initiator repeats the handshake until it hears back). Its frame must announce
    /// the initiator's inbound send id; the announcement of the first contact that
    /// started the session is final, so this one changes nothing else.
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
        let (frame, _) = self.ratchet.decrypt(
            &contact.initial.ratchet_message,
            &contact.prefix,
            &self.associated_data,
            &self.config,
            frame::parse_first_contact,
        )?;
        Ok(frame::payload(frame, frame::ANNOUNCE_HEADER_LEN))
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

    /// Whether this device knows the peer's inbound send id, so messages go to its queue
    /// rather than its mailbox. Always true for the responder; true for the initiator
    /// once it decrypted a message that announces the responder's send id.
    #[must_use]
    pub fn is_confirmed(&self) -> bool {
        matches!(self.outbound, Outbound::Queue(_))
    }

    /// Whether the messages this device sends still announce its inbound send id: until
    /// a message from the peer arrived on the inbound queue. (First contacts always
    /// announce it.)
    #[must_use]
    pub fn is_announcing(&self) -> bool {
        self.announcing
    }

    /// The peer device's certificate.
    #[must_use]
    pub fn peer(&self) -> &DeviceCertificate {
        &self.peer
    }

    /// The queue this device fetches the peer's messages from. Its send id is random and
    /// known only to this device until a message announces it: create the queue on the
    /// relay (send id and auth key) before depositing the first envelope this session
    /// produces.
    #[must_use]
    pub fn inbound_queue(&self) -> &QueueKeys {
        &self.inbound
    }

    /// The peer's queue, where confirmed messages are deposited; `None` while the
    /// initiator has not yet learned it (its messages then go to the peer's mailbox).
    #[must_use]
    pub fn outbound_send_id(&self) -> Option<SendId> {
        match &self.outbound {
            Outbound::Queue(id) => Some(*id),
            Outbound::Pending(_) => None,
        }
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

    /// The session AD (a hash of both certificates; not secret).
    pub(crate) fn associated_data(&self) -> &[u8; 32] {
        &self.associated_data
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
            outbound_send_id: match &self.outbound {
                Outbound::Queue(id) => Some(id.as_bytes().to_vec()),
                Outbound::Pending(_) => None,
            },
            pending: match &self.outbound {
                Outbound::Queue(_) => None,
                Outbound::Pending(p) => Some(pb::PendingFirstContact {
                    mailbox_send_id: p.mailbox.as_bytes().to_vec(),
                    peer_dh_key: p.peer_dh_key.to_vec(),
                    ephemeral_key: p.ephemeral_public.to_vec(),
                    signed_prekey_id: p.signed_prekey_id,
                    kem_prekey_id: p.kem_prekey_id,
                    kem_ciphertext: p.kem_ciphertext.clone(),
                    one_time_prekey_id: p.one_time_prekey_id,
                }),
            },
            sender_certificate: self.sender_certificate.clone(),
            announcing: self.announcing,
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
    /// [`StateError`] if the bytes are corrupted or from another version. A version 1
    /// session (send ids derived from the handshake, no session frames) is refused with
    /// [`StateError::Obsolete`] `{ found: 1, .. }`: it cannot talk to a peer running this
    /// version; start a new session.
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
        if state.version < SESSION_STATE_VERSION {
            return Err(StateError::Obsolete {
                found: state.version,
                supported: SESSION_STATE_VERSION,
            });
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
        // Exactly one of the two: the peer's queue, or (initiator only) the first
        // contact still being repeated.
        let outbound = match (&state.outbound_send_id, &state.pending) {
            (Some(id), None) => Outbound::Queue(send_id(id, "outbound_send_id")?),
            (None, Some(p)) if state.initiator => Outbound::Pending(PendingFirstContact {
                mailbox: send_id(&p.mailbox_send_id, "pending.mailbox_send_id")?,
                peer_dh_key: key32(&p.peer_dh_key, "pending.peer_dh_key")?,
                ephemeral_public: key32(&p.ephemeral_key, "pending.ephemeral_key")?,
                signed_prekey_id: p.signed_prekey_id,
                kem_prekey_id: p.kem_prekey_id,
                kem_ciphertext: p.kem_ciphertext.clone(),
                one_time_prekey_id: p.one_time_prekey_id,
            }),
            (None, Some(_)) => return Err(malformed("pending")),
            _ => return Err(malformed("outbound_send_id")),
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
            outbound,
            announcing: state.announcing,
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
            .field("confirmed", &self.is_confirmed())
            .field("announcing", &self.announcing)
            .field("peer", &self.peer.device_id())
            .field("inbound", &self.inbound.send_id())
            .field("outbound", &self.outbound_send_id())
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

/// Session frames: the plaintext of every ratchet message (`docs/PROTOCOL.md` §6.8).
///
/// ```text
/// kind 0x00   0x00 || payload                             1 + |payload| bytes
/// kind 0x01   0x01 || reply send id (16) || payload       17 + |payload| bytes
/// ```
///
/// The reply send id is the sender's own inbound send id. Any other kind byte, an empty
/// frame or a kind 0x01 frame shorter than 17 bytes is refused (before the ratchet
/// commits anything).
pub(crate) mod frame {
    use super::{QUEUE_ID_LEN, SendId};
    use crate::error::DecryptError;

    /// Kind byte: the application payload only.
    pub(crate) const KIND_PAYLOAD: u8 = 0x00;
    /// Kind byte: the sender's inbound send id, then the application payload.
    pub(crate) const KIND_ANNOUNCE: u8 = 0x01;
    /// Length of the header of a kind 0x00 frame.
    pub(crate) const PAYLOAD_HEADER_LEN: usize = 1;
    /// Length of the header of a kind 0x01 frame.
    pub(crate) const ANNOUNCE_HEADER_LEN: usize = 1 + QUEUE_ID_LEN;

    /// An encoded frame header (kind, and the reply send id for kind 0x01).
    pub(crate) struct EncodedHeader {
        bytes: [u8; ANNOUNCE_HEADER_LEN],
        len: usize,
    }

    impl EncodedHeader {
        pub(crate) fn as_bytes(&self) -> &[u8] {
            self.bytes.get(..self.len).unwrap_or_default()
        }
    }

    /// The header of a kind 0x00 frame.
    pub(crate) fn payload_header() -> EncodedHeader {
        let mut bytes = [0u8; ANNOUNCE_HEADER_LEN];
        if let Some(kind) = bytes.first_mut() {
            *kind = KIND_PAYLOAD;
        }
        EncodedHeader {
            bytes,
            len: PAYLOAD_HEADER_LEN,
        }
    }

    /// The header of a kind 0x01 frame announcing `reply`.
    pub(crate) fn announce_header(reply: &SendId) -> EncodedHeader {
        let mut bytes = [0u8; ANNOUNCE_HEADER_LEN];
        let (kind, id) = bytes.split_at_mut(1);
        kind.copy_from_slice(&[KIND_ANNOUNCE]);
        id.copy_from_slice(reply.as_bytes());
        EncodedHeader {
            bytes,
            len: ANNOUNCE_HEADER_LEN,
        }
    }

    /// A parsed frame header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Header {
        /// The sender's inbound send id, if the frame announces it.
        pub(crate) reply_send_id: Option<SendId>,
    }

    impl Header {
        /// The header's length: the payload starts here.
        pub(crate) fn len(&self) -> usize {
            if self.reply_send_id.is_some() {
                ANNOUNCE_HEADER_LEN
            } else {
                PAYLOAD_HEADER_LEN
            }
        }
    }

    /// Parses a frame's header. The payload (possibly empty) is everything after
    /// [`Header::len`] bytes.
    pub(crate) fn parse(frame: &[u8]) -> Result<Header, DecryptError> {
        match frame.split_first() {
            None => Err(DecryptError::Malformed {
                field: "session frame",
            }),
            Some((&KIND_PAYLOAD, _)) => Ok(Header {
                reply_send_id: None,
            }),
            Some((&KIND_ANNOUNCE, rest)) => rest
                .get(..QUEUE_ID_LEN)
                .and_then(SendId::from_slice)
                .map(|id| Header {
                    reply_send_id: Some(id),
                })
                .ok_or(DecryptError::Malformed {
                    field: "reply send id",
                }),
            Some(_) => Err(DecryptError::Malformed {
                field: "session frame kind",
            }),
        }
    }

    /// Parses the frame of a first contact, which must announce the initiator's inbound
    /// send id (kind 0x01); returns that id.
    pub(crate) fn parse_first_contact(frame: &[u8]) -> Result<SendId, DecryptError> {
        parse(frame)?.reply_send_id.ok_or(DecryptError::Malformed {
            field: "first contact reply send id",
        })
    }

    /// The payload of a checked frame whose header is `header_len` bytes long.
    pub(crate) fn payload(mut frame: Vec<u8>, header_len: usize) -> Vec<u8> {
        frame.drain(..header_len.min(frame.len()));
        frame
    }
}
