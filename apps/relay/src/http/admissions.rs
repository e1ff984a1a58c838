//! Admission: the school root confirms each enrolment.
//!
//! Whoever saw an invite code before it was redeemed can bind its grant to an account of
//! their own; what they cannot do is redeem it a second time. So a member asks to be
//! admitted with the member key its redemption recorded, handing in the certificate it
//! bound; the admin's app fetches the certificates waiting, checks each against the
//! invite it issued, and signs an admission (`docs/PROTOCOL.md` §5.3) that the member
//! then fetches and attaches. A certificate without one is shown as a stranger.
//!
//! The certificate travels sealed under the directory key, so the relay learns no name,
//! role or class from it: it keeps the first one each member key hands in and the
//! admission the root signs for it, and checks neither. Members verify admissions
//! themselves and the admin verifies certificates; the relay is trusted only for the
//! one-time redemption that tied the member key to its invite.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_core::school::MAX_ADMISSION_REQUEST_LEN;
use satchel_relay_api::{
    AdmissionRequest, AdmissionResponse, MAX_ADMISSIONS, PendingAdmission, PendingAdmissions,
    PutAdmissionsRequest, PutAdmissionsResponse,
};

use super::prekeys::SIGNATURE_64;
use super::schools::unexpected;
use super::{AppState, KEY_32, b64, decode_blob, decode_fixed, parse_id, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{WriteOp, WriteOutcome};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/schools/{school_id}/admission", post(request_admission))
        .route(
            "/v1/schools/{school_id}/admissions",
            get(pending).put(put_admissions),
        )
}

/// A member hands in its sealed certificate (kept the first time) and gets its
/// admission, if the admin signed one.
async fn request_admission(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<AdmissionResponse>> {
    let school_id = parse_id("school id", &school_id)?;
    let request: AdmissionRequest = parse_json(&signed.body)?;
    let sealed = decode_blob(
        "sealed_certificate",
        &request.sealed_certificate,
        MAX_ADMISSION_REQUEST_LEN,
        "the sealed member certificate (at most 4,124 bytes)",
    )?;
    let member_key = signed.named_key()?.ok_or(Error::AuthRequired)?;
    signed.verify(&member_key)?;
    let Some(member) = state
        .read(move |store| store.member(&school_id, &member_key))
        .await?
    else {
        if state
            .read(move |store| store.is_revoked_member(&member_key))
            .await?
        {
            return Err(Error::MembershipRevoked);
        }
        return Err(Error::Forbidden(
            "only a member key recorded by a redeemed invite of this school may ask to be \
             admitted: sign with your member key and name it in Satchel-Key",
        ));
    };
    // The first certificate a member key hands in is the one the admin sees; later
    // ones (a retry, with a fresh nonce) change nothing.
    if member.certificate.is_none() {
        let outcome = state
            .writer
            .submit_one(WriteOp::SetMemberCertificate {
                school_id,
                member_key,
                certificate: sealed,
            })
            .await?;
        match outcome {
            WriteOutcome::Done | WriteOutcome::Unchanged => {}
            other => return Err(unexpected(&other)),
        }
    }
    Ok(Json(AdmissionResponse {
        admission: member.admission.map(|signature| b64(&signature)),
        admission_issuer: member.admission_issuer.map(|issuer| b64(&issuer)),
    }))
}

/// The certificates waiting for the admin (root only).
async fn pending(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<PendingAdmissions>> {
    let school_id = parse_id("school id", &school_id)?;
    super::school_authority::verify_school(&state, school_id, &signed).await?;
    let limit = u32::try_from(MAX_ADMISSIONS).unwrap_or(u32::MAX);
    let pending = state
        .read(move |store| store.pending_admissions(&school_id, limit))
        .await?;
    Ok(Json(PendingAdmissions {
        pending: pending
            .into_iter()
            .map(|p| PendingAdmission {
                member_key: b64(&p.member_key),
                grant_key: b64(&p.grant_key),
                sealed_certificate: b64(&p.certificate),
            })
            .collect(),
    }))
}

/// Stores admissions the root signed (for members that handed in a certificate;
/// others are skipped). The relay cannot check them: members do.
async fn put_admissions(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<PutAdmissionsResponse>> {
    let school_id = parse_id("school id", &school_id)?;
    let request: PutAdmissionsRequest = parse_json(&signed.body)?;
    if request.admissions.len() > MAX_ADMISSIONS {
        return Err(Error::TooLarge("the list of admissions (at most 500)"));
    }
    let admissions = request
        .admissions
        .iter()
        .map(|a| {
            Ok((
                decode_fixed::<32>("admissions[].member_key", KEY_32, &a.member_key)?,
                decode_fixed::<64>("admissions[].admission", SIGNATURE_64, &a.admission)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let signer = super::school_authority::verify_school(&state, school_id, &signed).await?;
    // An office's admissions carry its certificate, for members to verify.
    let issuer = match signer {
        super::school_authority::SchoolSigner::Root => None,
        super::school_authority::SchoolSigner::Office(certificate) => Some(certificate),
    };
    match state
        .writer
        .submit_one(WriteOp::PutAdmissions {
            school_id,
            admissions,
            issuer,
        })
        .await?
    {
        WriteOutcome::Stored(stored) => Ok(Json(PutAdmissionsResponse { stored })),
        other => Err(unexpected(&other)),
    }
}
