//! Admission (`docs/PROTOCOL.md` §5.3): a member hands its certificate to the relay with
//! the member key its redemption recorded and picks up the root's admission once the
//! admin signed it; the admin's device signs admissions for the accounts that redeemed
//! the invites it issued, and re-seals their directory entries so others see them
//! admitted at once.
//!
//! Until a member is admitted, others show it as a stranger ("not confirmed by the
//! school yet"), and it sends nothing. A certificate bound with a copied invite code is
//! never admitted: its maker did not redeem the invite.

use std::collections::HashMap;

use satchel_core::PrekeyBundle;
use satchel_core::os_rng;
use satchel_core::school::{
    GrantId, MemberCertificate, RevocationList, SchoolAuthority, office_acts,
};

use crate::client::{Client, now_secs};
use crate::enrol::put_own_entry;
use crate::error::ClientError;
use crate::store::ContactRecord;

impl Client {
    /// Whether the school admitted this device's membership.
    ///
    /// # Errors
    /// [`ClientError::NotEnrolled`].
    pub fn is_admitted(&self) -> Result<bool, ClientError> {
        Ok(self.profile()?.member.is_admitted())
    }

    /// If this device is not admitted yet: hands its certificate to the relay and, once
    /// the admin signed an admission, attaches it (checked under the pinned root; one
    /// that does not verify is ignored), saves the profile and rewrites its directory
    /// entry. Returns whether it became admitted now.
    pub(crate) async fn refresh_admission(&mut self) -> Result<bool, ClientError> {
        let profile = self.profile()?;
        if profile.member.is_admitted() {
            return Ok(false);
        }
        let relay = self.relay()?;
        let sealed = profile.member.seal_admission_request(
            &profile.directory_key,
            &profile.school_id,
            &profile.member_key.public(),
            &mut os_rng(),
        )?;
        let Some(admission) = relay
            .request_admission(&profile.school_id, &profile.member_key, &sealed)
            .await?
        else {
            return Ok(false);
        };
        // An admission that does not verify (a broken or hostile relay, a confused
        // admin app) changes nothing: this device stays unconfirmed and keeps working.
        let Ok(member) = profile.member.clone().with_admission(
            &admission.signature,
            admission.issuer.as_deref(),
            &profile.root_key,
        ) else {
            return Ok(false);
        };
        let Some(mut profile) = self.profile.take() else {
            return Err(ClientError::NotEnrolled);
        };
        profile.member = member;
        self.save_profile(profile)?;
        put_own_entry(&relay, &self.account()?, self.profile()?).await?;
        Ok(true)
    }

    /// Confirms (the root's device or an office) the people who joined since the last
    /// time: admits every member waiting whose certificate binds a grant this device
    /// may vouch for (the root: its own and those of offices acting now; an office: its
    /// own), not revoked, with the grant key the relay recorded for the redemption of
    /// its invite, and re-seals their directory entries so others see them verified at
    /// once. Returns how many were admitted. [`Client::sync`] does this on such a
    /// device too.
    ///
    /// # Errors
    /// [`ClientError::NotAdmin`] on other devices; relay or store errors.
    pub async fn confirm_new_members(&mut self) -> Result<usize, ClientError> {
        self.reload_profile()?;
        let root = self.authority()?;
        let relay = self.relay()?;
        let waiting = relay.pending_admissions(&root).await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let revocations = self.profile()?.revocations.clone();
        let now = now_secs();
        // A request may be sealed under an older directory key (an invite issued before
        // the last rotation).
        let directory_keys: Vec<_> = self.profile()?.directory_keys().cloned().collect();
        let root_key = self.profile()?.root_key;
        let mut admitted: HashMap<([u8; 16], [u8; 16]), MemberCertificate> = HashMap::new();
        let mut signatures = Vec::new();
        for member in waiting {
            // The relay is not trusted: the certificate must verify, be for a grant
            // this device may vouch for that is not revoked, and carry the grant key
            // whose invite that member key redeemed.
            let Some(certificate) = directory_keys.iter().find_map(|key| {
                MemberCertificate::open_admission_request(
                    &member.sealed_certificate,
                    key,
                    &root_key,
                    &member.member_key,
                )
                .ok()
            }) else {
                continue;
            };
            let grant = certificate.grant();
            let grant_id = *grant.id().as_bytes();
            let revoked = revocations
                .as_ref()
                .is_some_and(|list| list.is_revoked(&GrantId::from_bytes(grant_id)));
            if grant.grant_key() != &member.grant_key
                || revoked
                || !may_vouch_for(&root, grant.issuer(), now, revocations.as_ref())
            {
                continue;
            }
            let certificate = certificate.admit(&root)?;
            if let Some(signature) = certificate.admission() {
                signatures.push((member.member_key, *signature));
            }
            admitted.insert(
                (grant_id, *certificate.account_id().as_bytes()),
                certificate,
            );
        }
        if signatures.is_empty() {
            return Ok(0);
        }
        relay.put_admissions(&root, &signatures).await?;
        let resealed = self.reseal_admitted(&admitted).await?;
        // Someone who joined with an invite issued before the last rotation holds an
        // old directory key: the current one follows over their session.
        self.send_current_directory_key(&resealed).await?;
        Ok(signatures.len())
    }

    /// Rewrites, as the root, the directory entries of members just admitted with their
    /// admitted certificate (bundle and bundle id as they were), so that others see them
    /// confirmed before the members themselves sync.
    async fn reseal_admitted(
        &mut self,
        admitted: &HashMap<([u8; 16], [u8; 16]), MemberCertificate>,
    ) -> Result<Vec<ContactRecord>, ClientError> {
        self.refresh_directory().await?;
        let root = self.authority()?;
        let relay = self.relay()?;
        let mut rewritten = Vec::new();
        for contact in self.store.contacts()? {
            let Some(certificate) = admitted.get(&(contact.grant_id, contact.account_id)) else {
                continue;
            };
            if certificate.account_key() != &contact.account_key {
                continue;
            }
            let Ok(bundle) = PrekeyBundle::from_bytes(&contact.bundle) else {
                continue;
            };
            let (entry_id, blob) = self.resealed_entry(&contact, certificate.clone(), bundle)?;
            relay
                .put_directory_entry_as_root(&root, &entry_id, &blob)
                .await?;
            rewritten.push(contact);
        }
        if !rewritten.is_empty() {
            self.refresh_directory().await?;
        }
        Ok(rewritten)
    }
}

/// Whether `authority` admits members of a grant signed by `issuer` (`None`: the root).
/// The root admits its own grants and those of an office that acts now (so people an
/// office invited are confirmed even while that office is away); an office admits only
/// the grants it made itself. No list of issued invites is needed: the signature on
/// the grant says who made it.
fn may_vouch_for(
    authority: &SchoolAuthority,
    issuer: Option<&MemberCertificate>,
    now: u64,
    revocations: Option<&RevocationList>,
) -> bool {
    match (authority, issuer) {
        (SchoolAuthority::Root(_), None) => true,
        (SchoolAuthority::Root(_), Some(office)) => office_acts(office, now, revocations),
        (SchoolAuthority::Office(me), Some(office)) => office == me.certificate(),
        (SchoolAuthority::Office(_), None) => false,
    }
}
