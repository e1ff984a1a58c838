//! The school's revocation list: an opaque signed blob with a sequence number.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use satchel_relay_api::{PutRevocationsRequest, Revocations};

use super::invites::school_root;
use super::schools::unexpected;
use super::{AppState, b64, decode_blob, parse_id, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{WriteOp, WriteOutcome};

/// The largest revocation list, in bytes.
pub const MAX_REVOCATION_LIST: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/schools/{school_id}/revocations",
        get(get_list).put(put_list),
    )
}

async fn put_list(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let school_id = parse_id("school id", &school_id)?;
    let request: PutRevocationsRequest = parse_json(&signed.body)?;
    let list = decode_blob(
        "list",
        &request.list,
        MAX_REVOCATION_LIST,
        "the revocation list (at most 64 KiB)",
    )?;
    if request.sequence > i64::MAX as u64 {
        return Err(Error::InvalidField {
            field: "sequence",
            expected: "an integer below 2^63",
        });
    }
    signed.verify(&school_root(&state, school_id).await?)?;
    match state
        .writer
        .submit_one(WriteOp::PutRevocations {
            school_id,
            list,
            sequence: request.sequence,
        })
        .await?
    {
        WriteOutcome::Done => Ok(StatusCode::NO_CONTENT),
        WriteOutcome::Conflict => Err(Error::StaleSequence),
        WriteOutcome::UnknownSchool => Err(Error::UnknownSchool),
        other => Err(unexpected(&other)),
    }
}

async fn get_list(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
) -> Result<Json<Revocations>> {
    let school_id = parse_id("school id", &school_id)?;
    let (list, sequence) = state
        .read(move |store| store.revocations(&school_id))
        .await?
        .ok_or(Error::NoRevocationList)?;
    Ok(Json(Revocations {
        list: b64(&list),
        sequence,
    }))
}
