//! `POST /v1/schools`: registering a school's root key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use satchel_relay_api::{REGISTRATION_HEADER, RegisterSchoolRequest, RegisterSchoolResponse};
use sha2::{Digest, Sha256};

use super::{AppState, KEY_32, decode_fixed, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{Id16, PublicKey, WriteOp, WriteOutcome};

/// The label of the school id derivation.
pub const SCHOOL_ID_LABEL: &[u8] = b"Satchel school id v1";

/// `school_id = SHA-256("Satchel school id v1" || root_key)[0..16]`.
#[must_use]
pub fn school_id(root_key: &PublicKey) -> Id16 {
    let digest = Sha256::new()
        .chain_update(SCHOOL_ID_LABEL)
        .chain_update(root_key)
        .finalize();
    let mut id = [0u8; 16];
    for (out, byte) in id.iter_mut().zip(digest.iter()) {
        *out = *byte;
    }
    id
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/schools", post(register))
}

async fn register(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<(StatusCode, Json<RegisterSchoolResponse>)> {
    let request: RegisterSchoolRequest = parse_json(&signed.body)?;
    let root_key = decode_fixed::<32>("root_key", KEY_32, &request.root_key)?;
    signed.verify(&root_key)?;
    let school_id = school_id(&root_key);
    let known = state
        .read(move |store| store.school_root(&school_id))
        .await?
        .is_some();
    // A school the relay has may register again (a retry) without the token.
    if !known {
        let token = state
            .registration
            .as_ref()
            .ok_or(Error::RegistrationClosed)?;
        let presented = signed
            .headers
            .get(REGISTRATION_HEADER)
            .ok_or(Error::BadRegistrationToken)?;
        if !token.matches(presented.as_bytes()) {
            return Err(Error::BadRegistrationToken);
        }
    }
    let status = match state
        .writer
        .submit_one(WriteOp::RegisterSchool {
            school_id,
            root_key,
        })
        .await?
    {
        WriteOutcome::Created => StatusCode::CREATED,
        WriteOutcome::Unchanged => StatusCode::OK,
        other => return Err(unexpected(&other)),
    };
    Ok((
        status,
        Json(RegisterSchoolResponse {
            school_id: hex::encode(school_id),
        }),
    ))
}

/// An outcome the store should not produce for an operation.
pub(crate) fn unexpected(outcome: &WriteOutcome) -> Error {
    let kind = match outcome {
        WriteOutcome::Created => "created",
        WriteOutcome::Unchanged => "unchanged",
        WriteOutcome::Done => "done",
        WriteOutcome::NotFound => "not found",
        WriteOutcome::Conflict => "conflict",
        WriteOutcome::Forbidden => "forbidden",
        WriteOutcome::Revoked => "revoked",
        WriteOutcome::Throttled { .. } => "throttled",
        WriteOutcome::UnknownSchool => "unknown school",
        WriteOutcome::Full => "full",
        WriteOutcome::Prekey { .. } => "prekey",
        WriteOutcome::Queue { .. } => "queue",
        WriteOutcome::Deposited { .. } => "deposited",
        WriteOutcome::DepositedShared(_) => "deposited for many queues",
        WriteOutcome::Deleted(_) => "deleted",
        WriteOutcome::Stored(_) => "stored",
    };
    Error::Internal(format!("the store returned an unexpected outcome ({kind})"))
}
