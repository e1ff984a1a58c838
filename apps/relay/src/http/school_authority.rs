//! Requests only the school may make — publishing invites and revocation lists, revoking
//! members, admitting them, writing any directory entry — signed by its root key or by an
//! **office** (`docs/PROTOCOL.md` §5.8): an admin the root granted and admitted, which
//! signs with its account key and sends its member certificate in `Satchel-Office`.
//!
//! The relay checks an office with core, as members do: the certificate verifies under
//! the school's root, makes its holder an office, is valid now, and its grant is not
//! revoked here. Members check office-signed objects themselves; this only decides whom
//! the relay serves.

use satchel_core::school::{MemberCertificate, SchoolKey};

use super::AppState;
use super::invites::school_root;
use crate::auth::{SignedRequest, now_unix};
use crate::error::{Error, Result};
use crate::store::Id16;

/// Who signed a request the school may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SchoolSigner {
    /// The root key.
    Root,
    /// An office, with its encoded certificate (kept with the admissions it signs).
    Office(Vec<u8>),
}

/// Verifies `signed` as the school `school_id`: by the office whose certificate it
/// names, or else by the root.
///
/// # Errors
/// [`Error::Forbidden`] for a certificate that is no valid office of this school,
/// [`Error::MembershipRevoked`] for a revoked office, the signature errors otherwise.
pub(crate) async fn verify_school(
    state: &AppState,
    school_id: Id16,
    signed: &SignedRequest,
) -> Result<SchoolSigner> {
    let root = school_root(state, school_id).await?;
    let Some(office) = office_certificate(signed, &SchoolKey::from_bytes(root))? else {
        signed.verify(&root)?;
        return Ok(SchoolSigner::Root);
    };
    let details = office.grant().details();
    let now = u64::try_from(now_unix()).unwrap_or(0);
    if now < details.valid_from || now >= details.valid_until {
        return Err(Error::Forbidden(
            "this office's certificate is not valid now: ask the school for a new one",
        ));
    }
    let grant_key = *office.grant().grant_key();
    if state
        .read(move |store| store.is_revoked_grant(&school_id, &grant_key))
        .await?
    {
        return Err(Error::MembershipRevoked);
    }
    signed.verify(office.account_key())?;
    Ok(SchoolSigner::Office(office.to_bytes()))
}

/// The office certificate named in `Satchel-Office`, if the request names one.
fn office_certificate(
    signed: &SignedRequest,
    root: &SchoolKey,
) -> Result<Option<MemberCertificate>> {
    let Some(value) = signed.headers.get(satchel_relay_api::OFFICE_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| Error::MalformedAuth)?;
    let bytes = super::decode_blob(
        "Satchel-Office header",
        text,
        satchel_core::school::MAX_MEMBER_CERTIFICATE_LEN,
        "the office certificate (at most 4,096 bytes)",
    )?;
    let certificate = MemberCertificate::from_bytes(&bytes, root).map_err(|_| {
        Error::Forbidden("the Satchel-Office certificate is not a certificate of this school")
    })?;
    if !certificate.is_office() {
        return Err(Error::Forbidden(
            "only the school root or one of its offices may do this",
        ));
    }
    Ok(Some(certificate))
}
