//! The local device: its account identity, device keys, mailbox and prekeys.

use prost::Message;
use rand_core::CryptoRng;
use satchel_proto::v1 as pb;

use crate::crypto::dh::DhKeyPair;
use crate::crypto::secret::Secret32;
use crate::crypto::signing::SigningKeyPair;
use crate::envelope::queue::{QueueKeys, SendId};
use crate::envelope::{Envelope, sealed};
use crate::error::{FirstContactError, StateError};
use crate::handshake::initial::{InitialMessage, decode_sealed_content};
use crate::handshake::{handshake_id, pqxdh};
use crate::identity::certificate::DeviceCertificate;
use crate::identity::fingerprint::{Fingerprint, SafetyNumber};
use crate::identity::ids::{AccountId, DeviceId};
use crate::prekeys::one_time::one_time_prekey_bytes;
use crate::prekeys::store::{PrekeyStore, SeenHandshake};
use crate::prekeys::{BundleId, PrekeyBundle, PrekeyId, SignedOneTimePrekey};
use crate::session::{Session, SessionId};

/// The version of the persisted account format.
pub const ACCOUNT_STATE_VERSION: u32 = 1;

/// This device: the account identity key, the device's own keys and certificate, its
/// contact mailbox and its prekeys.
///
/// ```
/// use satchel_core::{Account, Envelope, PrekeyBundle, Session, os_rng};
///
/// let mut rng = os_rng();
/// let mut teacher = Account::new(&mut rng);
/// let parent = Account::new(&mut rng);
///
/// // The parent fetches the teacher's bundle (normally from the relay) and verifies it.
/// let bundle = PrekeyBundle::from_bytes(&teacher.prekey_bundle().to_bytes())?;
/// let mut to_teacher = Session::initiate(&parent, &bundle, &mut rng)?;
/// let first = to_teacher.encrypt(b"Is the trip still on?", &mut rng)?;
///
/// // The teacher opens the first contact from its mailbox and accepts the session.
/// let contact = teacher.open_first_contact(&first)?;
/// let inbound = teacher.accept(&contact, &mut rng)?;
/// assert_eq!(inbound.plaintext, b"Is the trip still on?");
/// let mut to_parent = inbound.session;
///
/// // Replies go to the parent's queue and need no public-key operation after the first.
/// let reply = to_parent.encrypt(b"Yes, 9:00 at the gate.", &mut rng)?;
/// assert_eq!(to_teacher.decrypt(&Envelope::from_bytes(reply.as_bytes())?)?, b"Yes, 9:00 at the gate.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Account {
    account_id: AccountId,
    identity: SigningKeyPair,
    device_id: DeviceId,
    device_dh: DhKeyPair,
    device_signing: SigningKeyPair,
    certificate: DeviceCertificate,
    mailbox: QueueKeys,
    prekeys: PrekeyStore,
}

/// A first-contact envelope opened with this device's key: the sender is known and its
/// certificate verified, but nothing is decrypted or committed yet.
pub struct FirstContact {
    pub(crate) prefix: Vec<u8>,
    pub(crate) sender_certificate: Vec<u8>,
    pub(crate) initial: InitialMessage,
    pub(crate) handshake_id: [u8; 16],
}

impl FirstContact {
    /// The session this first contact starts (or continues, if already accepted).
    #[must_use]
    pub fn session_id(&self) -> SessionId {
        SessionId::from_bytes(self.handshake_id)
    }

    /// The sender's device certificate (verified against its account key).
    #[must_use]
    pub fn sender(&self) -> &DeviceCertificate {
        &self.initial.sender
    }

    /// The opaque sender-certificate slot (the school-issued chain), for the trust layer.
    #[must_use]
    pub fn sender_certificate(&self) -> &[u8] {
        &self.sender_certificate
    }
}

impl std::fmt::Debug for FirstContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstContact")
            .field("session_id", &self.session_id())
            .field("sender", &self.initial.sender)
            .finish_non_exhaustive()
    }
}

/// What accepting a first contact changes in the account (no secrets): which one-time
/// prekey it used and the handshake to remember. See [`Account::accept_uncommitted`].
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptedHandshake {
    seen: SeenHandshake,
    one_time_prekey_id: Option<PrekeyId>,
}

impl std::fmt::Debug for AcceptedHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedHandshake")
            .field("one_time_prekey_id", &self.one_time_prekey_id)
            .finish_non_exhaustive()
    }
}

/// A session created by an incoming first contact, and the first message's plaintext.
#[derive(Debug)]
pub struct InboundSession {
    /// The new session.
    pub session: Session,
    /// The plaintext of the first message.
    pub plaintext: Vec<u8>,
}

impl Account {
    /// The account's Ed25519 identity key (signs device certificates and, for an
    /// office, the school's objects).
    pub(crate) fn identity_key(&self) -> &SigningKeyPair {
        &self.identity
    }
}

impl Account {
    /// Creates a new account with one device, a mailbox, a signed prekey and a KEM
    /// prekey. Generate one-time prekeys with [`Account::generate_one_time_prekeys`].
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        // The draw order (identity, account id, device id, …) is part of the known-answer
        // vectors.
        let identity = SigningKeyPair::generate(rng);
        let account_id = AccountId::random(rng);
        let device_id = DeviceId::random(rng);
        Self::assemble(identity, account_id, device_id, rng)
    }

    /// An account whose certificate claims the given ids under fresh keys: ids are
    /// claims, so tests use this to play someone who reuses another person's ids.
    pub(crate) fn with_ids<R: CryptoRng + ?Sized>(
        account_id: AccountId,
        device_id: DeviceId,
        rng: &mut R,
    ) -> Self {
        let identity = SigningKeyPair::generate(rng);
        Self::assemble(identity, account_id, device_id, rng)
    }

    fn assemble<R: CryptoRng + ?Sized>(
        identity: SigningKeyPair,
        account_id: AccountId,
        device_id: DeviceId,
        rng: &mut R,
    ) -> Self {
        let device_dh = DhKeyPair::generate(rng);
        let device_signing = SigningKeyPair::generate(rng);
        let certificate = DeviceCertificate::issue(
            &identity,
            account_id,
            device_id,
            *device_dh.public(),
            device_signing.public(),
        );
        Self {
            account_id,
            identity,
            device_id,
            device_dh,
            device_signing,
            certificate,
            mailbox: QueueKeys::generate(rng),
            prekeys: PrekeyStore::generate(rng),
        }
    }

    /// The account's id.
    #[must_use]
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// This device's id.
    #[must_use]
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// This device's certificate (public).
    #[must_use]
    pub fn certificate(&self) -> &DeviceCertificate {
        &self.certificate
    }

    pub(crate) fn device_dh(&self) -> &DhKeyPair {
        &self.device_dh
    }

    /// This account's fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.account_id, &self.identity.public())
    }

    /// The safety number between this account and the owner of `peer`.
    #[must_use]
    pub fn safety_number(&self, peer: &DeviceCertificate) -> SafetyNumber {
        SafetyNumber::between(
            &self.fingerprint(),
            &Fingerprint::of(&peer.account_id(), peer.account_key()),
        )
    }

    /// This device's contact mailbox: create it on the relay, publish its send id.
    #[must_use]
    pub fn mailbox(&self) -> &QueueKeys {
        &self.mailbox
    }

    fn bundle(&self, one_time: Option<(PrekeyId, [u8; 32])>) -> PrekeyBundle {
        let (signed, kem) = (self.prekeys.current_signed(), self.prekeys.current_kem());
        let signed = signed.map_or((0, [0u8; 32]), |k| (k.id, *k.pair.public()));
        let kem = kem.map_or((0, Vec::new()), |k| (k.id, k.pair.public_bytes()));
        // Our own keys always form a valid bundle; `sign` re-parses the ML-KEM key.
        match PrekeyBundle::sign(
            self.certificate.clone(),
            &self.device_signing,
            self.mailbox.send_id(),
            signed,
            kem,
            one_time,
        ) {
            Ok(bundle) => bundle,
            Err(error) => unreachable_bundle(&error),
        }
    }

    /// The current prekey bundle without a one-time prekey (what the relay serves once
    /// the one-time prekeys are gone).
    #[must_use]
    pub fn prekey_bundle(&self) -> PrekeyBundle {
        self.bundle(None)
    }

    /// A bundle with a fresh one-time prekey, marked as published. For handing a bundle
    /// over directly (its one-time prekey is not signed); relays get theirs through
    /// [`Account::unpublished_one_time_prekeys`].
    pub fn prekey_bundle_with_one_time_prekey<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> PrekeyBundle {
        let ids = self.prekeys.generate_one_time(1, rng);
        let one_time = ids.first().and_then(|id| {
            let key = self.prekeys.one_time.iter_mut().find(|k| k.id == *id)?;
            key.published = true;
            Some((key.id, *key.pair.public()))
        });
        self.bundle(one_time)
    }

    /// Generates up to `count` one-time prekeys (the device keeps at most
    /// [`crate::prekeys::store::MAX_ONE_TIME_PREKEYS`]); returns how many were made.
    pub fn generate_one_time_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        count: usize,
        rng: &mut R,
    ) -> usize {
        self.prekeys.generate_one_time(count, rng).len()
    }

    /// What to upload to the relay: the bundle plus every one-time prekey not yet
    /// published, each signed for `bundle_id`, which are marked published. Persist the
    /// account afterwards.
    pub fn prekey_upload(&mut self, bundle_id: &BundleId) -> pb::PrekeyUpload {
        let signed = self.unpublished_one_time_prekeys(bundle_id);
        let ids: Vec<PrekeyId> = signed.iter().map(|k| k.id).collect();
        let one_time_prekeys = signed.iter().map(SignedOneTimePrekey::to_proto).collect();
        self.mark_one_time_prekeys_published(&ids);
        pb::PrekeyUpload {
            bundle: Some(self.prekey_bundle().to_proto()),
            one_time_prekeys,
        }
    }

    /// Every one-time prekey not yet published, signed for `bundle_id` (the relay bundle
    /// they are uploaded to; `docs/PROTOCOL.md` §3.3). Changes nothing: after the
    /// relay accepted them, call [`Account::mark_one_time_prekeys_published`] and
    /// persist the account. The signatures are deterministic, so an upload that was
    /// cut off can be repeated with the same bytes.
    #[must_use]
    pub fn unpublished_one_time_prekeys(&self, bundle_id: &BundleId) -> Vec<SignedOneTimePrekey> {
        self.prekeys
            .one_time
            .iter()
            .filter(|k| !k.published)
            .map(|k| {
                let public_key = *k.pair.public();
                SignedOneTimePrekey {
                    id: k.id,
                    public_key,
                    signature: self.device_signing.sign(&one_time_prekey_bytes(
                        bundle_id,
                        k.id,
                        &public_key,
                    )),
                }
            })
            .collect()
    }

    /// Marks the one-time prekeys `ids` as published (after the relay accepted them).
    pub fn mark_one_time_prekeys_published(&mut self, ids: &[PrekeyId]) {
        for key in &mut self.prekeys.one_time {
            if ids.contains(&key.id) {
                key.published = true;
            }
        }
    }

    /// How many one-time prekeys this device holds: `(published, not yet published)`.
    #[must_use]
    pub fn one_time_prekey_counts(&self) -> (usize, usize) {
        let unpublished = self
            .prekeys
            .one_time
            .iter()
            .filter(|k| !k.published)
            .count();
        (self.prekeys.one_time.len() - unpublished, unpublished)
    }

    /// Tops up the one-time prekeys, given that the relay still holds `on_relay` of
    /// them: generates (unpublished) as many as needed for `target` to be on the relay
    /// or waiting for upload, and returns how many were made. Upload them with
    /// [`Account::unpublished_one_time_prekeys`].
    ///
    /// The device keeps at most [`crate::MAX_ONE_TIME_PREKEYS`]. Published keys the
    /// relay no longer holds were handed out to someone; a first contact may still use
    /// them, so they are kept until room is needed, then the oldest are forgotten first
    /// (the relay hands out the oldest first, so the newest `on_relay` published keys
    /// are the ones it still holds, and those are never forgotten).
    pub fn replenish_one_time_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        on_relay: usize,
        target: usize,
        rng: &mut R,
    ) -> usize {
        let (published, unpublished) = self.one_time_prekey_counts();
        let wanted = target.saturating_sub(on_relay.saturating_add(unpublished));
        if wanted == 0 {
            return 0;
        }
        let excess = (self.prekeys.one_time.len() + wanted)
            .saturating_sub(crate::prekeys::store::MAX_ONE_TIME_PREKEYS);
        let handed_out = published.saturating_sub(on_relay);
        self.prekeys.forget_oldest_published(excess.min(handed_out));
        self.prekeys.generate_one_time(wanted, rng).len()
    }

    /// Replaces both the signed prekey and the ML-KEM prekey (a scheduled rotation); the
    /// previous ones stay usable for a grace period
    /// ([`crate::RETAINED_ROTATED_PREKEYS`] of each are kept, the current one included).
    /// Publish the new bundle afterwards.
    pub fn rotate_prekeys<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.prekeys.rotate_signed(rng);
        self.prekeys.rotate_kem(rng);
    }

    /// Replaces the signed prekey; the previous ones stay usable for a grace period
    /// ([`crate::prekeys::store::RETAINED_ROTATED_PREKEYS`] in all). Upload a new bundle.
    pub fn rotate_signed_prekey<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.prekeys.rotate_signed(rng);
    }

    /// Replaces the ML-KEM prekey, keeping the previous ones for a grace period.
    pub fn rotate_kem_prekey<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.prekeys.rotate_kem(rng);
    }

    /// Opens a first-contact envelope from this device's mailbox and verifies the
    /// sender's certificate. Changes nothing.
    ///
    /// # Errors
    /// [`FirstContactError`] if the envelope is not for this mailbox, does not open, or
    /// its content is malformed or from an invalid certificate.
    pub fn open_first_contact(
        &self,
        envelope: &Envelope,
    ) -> Result<FirstContact, FirstContactError> {
        if envelope.send_id() != self.mailbox.send_id() {
            return Err(FirstContactError::NotForThisMailbox);
        }
        let content = sealed::open(&self.device_dh, envelope)
            .map_err(|_| FirstContactError::DecryptionFailed)?;
        let (sender_certificate, initial) = decode_sealed_content(&content)?;
        if initial.sender.device_id() == self.device_id {
            return Err(FirstContactError::FromSelf);
        }
        let handshake_id = handshake_id(initial.sender.device_dh_key(), &initial.ephemeral_public);
        Ok(FirstContact {
            prefix: envelope.prefix().to_vec(),
            sender_certificate,
            initial,
            handshake_id,
        })
    }

    /// Whether `contact` starts a session this account already accepted. Route such a
    /// first contact to the existing session ([`Session::decrypt_first_contact`]).
    #[must_use]
    pub fn has_accepted(&self, contact: &FirstContact) -> bool {
        self.prekeys.has_seen(&SeenHandshake {
            signed_prekey_id: contact.initial.signed_prekey_id,
            handshake_id: contact.handshake_id,
        })
    }

    /// Completes the responder's side of the handshake and decrypts the first message.
    ///
    /// Only after the message decrypts is anything committed: the one-time prekey is
    /// deleted and the handshake remembered, so a replay is refused. On error the
    /// account is unchanged. Persist the account and the new session together.
    ///
    /// # Errors
    /// [`FirstContactError::Replayed`] if this handshake was accepted before,
    /// [`FirstContactError::UnknownPrekey`] if it used prekeys this device no longer has,
    /// [`FirstContactError::DecryptionFailed`] if it does not decrypt.
    pub fn accept<R: CryptoRng + ?Sized>(
        &mut self,
        contact: &FirstContact,
        rng: &mut R,
    ) -> Result<InboundSession, FirstContactError> {
        let (inbound, handshake) = self.accept_uncommitted(contact, rng)?;
        self.commit_accepted(&handshake);
        Ok(inbound)
    }

    /// [`Account::accept`] without changing the account: the caller decides whether the
    /// new session is kept, and only then records the handshake with
    /// [`Account::commit_accepted`] (before saving the account and the session together).
    /// Until then the one-time prekey is still present and a replay is not yet refused.
    ///
    /// # Errors
    /// As [`Account::accept`].
    pub fn accept_uncommitted<R: CryptoRng + ?Sized>(
        &self,
        contact: &FirstContact,
        rng: &mut R,
    ) -> Result<(InboundSession, AcceptedHandshake), FirstContactError> {
        let seen = SeenHandshake {
            signed_prekey_id: contact.initial.signed_prekey_id,
            handshake_id: contact.handshake_id,
        };
        if self.prekeys.has_seen(&seen) {
            return Err(FirstContactError::Replayed);
        }
        let initial = &contact.initial;
        let signed = self
            .prekeys
            .signed(initial.signed_prekey_id)
            .ok_or(FirstContactError::UnknownPrekey)?;
        let kem = self
            .prekeys
            .kem(initial.kem_prekey_id)
            .ok_or(FirstContactError::UnknownPrekey)?;
        let one_time = match initial.one_time_prekey_id {
            None => None,
            Some(id) => Some(
                &self
                    .prekeys
                    .one_time(id)
                    .ok_or(FirstContactError::UnknownPrekey)?
                    .pair,
            ),
        };
        let shared = pqxdh::respond(
            &self.device_dh,
            &signed.pair,
            &kem.pair,
            one_time,
            initial.sender.device_dh_key(),
            &initial.ephemeral_public,
            &initial.kem_ciphertext,
        )
        .map_err(|_| FirstContactError::DecryptionFailed)?;
        let (session, plaintext) =
            Session::respond(self, contact, &shared, signed.pair.clone(), rng)
                .map_err(|_| FirstContactError::DecryptionFailed)?;
        let handshake = AcceptedHandshake {
            seen,
            one_time_prekey_id: initial.one_time_prekey_id,
        };
        Ok((InboundSession { session, plaintext }, handshake))
    }

    /// Records a handshake accepted with [`Account::accept_uncommitted`]: deletes its
    /// one-time prekey and remembers it, so a replay is refused from now on.
    pub fn commit_accepted(&mut self, handshake: &AcceptedHandshake) {
        if let Some(id) = handshake.one_time_prekey_id {
            self.prekeys.remove_one_time(id);
        }
        self.prekeys.remember(handshake.seen);
    }

    pub(crate) fn to_proto(&self) -> pb::AccountState {
        let mut state = pb::AccountState {
            version: ACCOUNT_STATE_VERSION,
            account_secret: self.identity.secret_bytes().as_bytes().to_vec(),
            account_id: self.account_id.as_bytes().to_vec(),
            device_id: self.device_id.as_bytes().to_vec(),
            device_dh_secret: self.device_dh.secret_bytes().as_bytes().to_vec(),
            device_signing_secret: self.device_signing.secret_bytes().as_bytes().to_vec(),
            certificate: Some(self.certificate.to_proto()),
            mailbox: Some(pb::QueueKeys {
                send_id: self.mailbox.send_id().as_bytes().to_vec(),
                auth_secret: self.mailbox.auth_secret().as_bytes().to_vec(),
            }),
            ..Default::default()
        };
        self.prekeys.to_proto(&mut state);
        state
    }

    /// Serialises the account (a versioned protobuf `AccountState`). The bytes contain
    /// secret keys: store them encrypted at rest, or use
    /// [`crate::storage::export::export_account`].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// Loads an account saved by [`Account::to_bytes`].
    ///
    /// # Errors
    /// [`StateError`] if the bytes are corrupted, from an unknown version, or the keys
    /// inside do not match the stored certificate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let state = pb::AccountState::decode(bytes)
            .map_err(|_| StateError::Malformed { field: "encoding" })?;
        Self::from_proto(&state)
    }

    pub(crate) fn from_proto(state: &pb::AccountState) -> Result<Self, StateError> {
        // Version 0 is an absent field: not state at all, rather than a newer one.
        if state.version == 0 {
            return Err(StateError::Malformed { field: "version" });
        }
        if state.version != ACCOUNT_STATE_VERSION {
            return Err(StateError::UnsupportedVersion {
                found: state.version,
                supported: ACCOUNT_STATE_VERSION,
            });
        }
        let malformed = |field| StateError::Malformed { field };
        let secret = |bytes: &[u8], field| Secret32::from_slice(bytes).ok_or(malformed(field));
        let identity =
            SigningKeyPair::from_secret(&secret(&state.account_secret, "account_secret")?);
        let device_dh = DhKeyPair::from_secret(
            *secret(&state.device_dh_secret, "device_dh_secret")?.as_bytes(),
        );
        let device_signing = SigningKeyPair::from_secret(&secret(
            &state.device_signing_secret,
            "device_signing_secret",
        )?);
        let account_id = AccountId::from_slice(&state.account_id).ok_or(malformed("account_id"))?;
        let device_id = DeviceId::from_slice(&state.device_id).ok_or(malformed("device_id"))?;
        let certificate = DeviceCertificate::from_proto(
            state.certificate.as_ref().ok_or(malformed("certificate"))?,
        )
        .map_err(|_| malformed("certificate"))?;
        if certificate.account_id() != account_id
            || certificate.device_id() != device_id
            || *certificate.account_key() != identity.public()
            || certificate.device_dh_key() != device_dh.public()
            || *certificate.device_signing_key() != device_signing.public()
        {
            return Err(malformed("certificate"));
        }
        let mailbox = state.mailbox.as_ref().ok_or(malformed("mailbox"))?;
        Ok(Self {
            account_id,
            identity,
            device_id,
            device_dh,
            device_signing,
            certificate,
            mailbox: QueueKeys::from_parts(
                SendId::from_slice(&mailbox.send_id).ok_or(malformed("mailbox.send_id"))?,
                &secret(&mailbox.auth_secret, "mailbox.auth_secret")?,
            ),
            prekeys: PrekeyStore::from_proto(state)?,
        })
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("account_id", &self.account_id)
            .field("device_id", &self.device_id)
            .field("mailbox", &self.mailbox.send_id())
            .finish_non_exhaustive()
    }
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_bundle(error: &crate::error::BundleError) -> ! {
    // Invariant: an account's own prekeys always encode to a valid bundle.
    panic!("local prekey bundle failed to build: {error}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::Account;
    use crate::error::{BundleError, FirstContactError};
    use crate::prekeys::{BundleId, PrekeyBundle};
    use crate::session::Session;

    #[test]
    fn replenishing_generates_unpublished_keys_signed_for_the_bundle() {
        let mut rng = crate::os_rng();
        let mut account = Account::new(&mut rng);
        let bundle_id = BundleId::random(&mut rng);
        account.generate_one_time_prekeys(50, &mut rng);
        let upload = account.prekey_upload(&bundle_id);
        assert_eq!(upload.one_time_prekeys.len(), 50);
        assert_eq!(account.one_time_prekey_counts(), (50, 0));

        // 10 left on the relay: 90 new ones make 100; nothing is published yet.
        assert_eq!(account.replenish_one_time_prekeys(10, 100, &mut rng), 90);
        assert_eq!(account.one_time_prekey_counts(), (50, 90));
        // Asking again before the upload makes no more.
        assert_eq!(account.replenish_one_time_prekeys(10, 100, &mut rng), 0);
        let keys = account.unpublished_one_time_prekeys(&bundle_id);
        assert_eq!(keys, account.unpublished_one_time_prekeys(&bundle_id));
        let bundle = PrekeyBundle::from_bytes(&account.prekey_bundle().to_bytes()).unwrap();
        for key in &keys {
            assert!(bundle.clone().with_one_time_prekey(&bundle_id, key).is_ok());
            assert_eq!(
                bundle
                    .clone()
                    .with_one_time_prekey(&BundleId::random(&mut rng), key)
                    .err(),
                Some(BundleError::BadOneTimePrekeySignature)
            );
        }
        let ids: Vec<u32> = keys.iter().map(|k| k.id).collect();
        account.mark_one_time_prekeys_published(&ids[..40]);
        assert_eq!(account.one_time_prekey_counts(), (90, 50));
    }

    #[test]
    fn at_the_cap_the_oldest_handed_out_keys_make_room_and_the_ones_on_the_relay_stay() {
        let mut rng = crate::os_rng();
        let mut account = Account::new(&mut rng);
        let bundle_id = BundleId::random(&mut rng);
        account.generate_one_time_prekeys(crate::MAX_ONE_TIME_PREKEYS, &mut rng);
        let all = account.unpublished_one_time_prekeys(&bundle_id);
        let ids: Vec<u32> = all.iter().map(|k| k.id).collect();
        account.mark_one_time_prekeys_published(&ids);
        // The relay still holds the newest 5.
        assert_eq!(account.replenish_one_time_prekeys(5, 100, &mut rng), 95);
        assert_eq!(account.one_time_prekey_counts(), (905, 95));
        // A first contact with one of the keys still on the relay is accepted.
        let on_relay = all.last().unwrap();
        let bundle = PrekeyBundle::from_bytes(&account.prekey_bundle().to_bytes())
            .unwrap()
            .with_one_time_prekey(&bundle_id, on_relay)
            .unwrap();
        let sender = Account::new(&mut rng);
        let mut session = Session::initiate(&sender, &bundle, &mut rng).unwrap();
        let first = session.encrypt(b"hello", &mut rng).unwrap();
        let contact = account.open_first_contact(&first).unwrap();
        assert_eq!(
            account.accept(&contact, &mut rng).unwrap().plaintext,
            b"hello"
        );
        // One of the oldest (handed out, never used) was forgotten.
        let oldest = all.first().unwrap();
        let bundle = PrekeyBundle::from_bytes(&account.prekey_bundle().to_bytes())
            .unwrap()
            .with_one_time_prekey(&bundle_id, oldest)
            .unwrap();
        let mut session = Session::initiate(&sender, &bundle, &mut rng).unwrap();
        let first = session.encrypt(b"late", &mut rng).unwrap();
        let contact = account.open_first_contact(&first).unwrap();
        assert_eq!(
            account.accept(&contact, &mut rng).err(),
            Some(FirstContactError::UnknownPrekey)
        );
    }

    #[test]
    fn a_bundle_two_rotations_old_still_works_and_three_is_refused() {
        let mut rng = crate::os_rng();
        let mut account = Account::new(&mut rng);
        let sender = Account::new(&mut rng);
        let old = PrekeyBundle::from_bytes(&account.prekey_bundle().to_bytes()).unwrap();
        let first_with = |account: &mut Account, rng: &mut _| {
            let mut session = Session::initiate(&sender, &old, rng).unwrap();
            let first = session.encrypt(b"hi", rng).unwrap();
            let contact = account.open_first_contact(&first).unwrap();
            account
                .accept(&contact, rng)
                .map(|inbound| inbound.plaintext)
        };
        account.rotate_prekeys(&mut rng);
        account.rotate_prekeys(&mut rng);
        assert_eq!(first_with(&mut account, &mut rng).unwrap(), b"hi");
        account.rotate_prekeys(&mut rng);
        assert_eq!(
            first_with(&mut account, &mut rng).err(),
            Some(FirstContactError::UnknownPrekey)
        );
    }
}
