//! The school's revocation list: an opaque signed blob with a sequence number, fetched
//! conditionally (`?since=SEQ`: 304 when the stored list is not newer).

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use satchel_relay_api::{PutRevocationsRequest, Revocations};

use super::schools::unexpected;
use super::{AppState, b64, decode_blob, parse_id, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{WriteOp, WriteOutcome};

/// The largest revocation list, in bytes: the largest list core signs
/// ([`satchel_core::school::MAX_REVOCATION_LIST_LEN`], 100,000 grants, about 2.4 MB).
pub const MAX_REVOCATION_LIST: usize = satchel_core::school::MAX_REVOCATION_LIST_LEN;

/// The body limit of a revocation list upload: [`MAX_REVOCATION_LIST`] in base64 plus
/// the JSON around it (about 3.2 MB; every other JSON endpoint keeps
/// [`crate::limits::JSON_BODY_LIMIT`]).
pub const REVOCATIONS_BODY_LIMIT: usize = MAX_REVOCATION_LIST.div_ceil(3) * 4 + 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/schools/{school_id}/revocations",
        get(get_list).put(put_list.layer(DefaultBodyLimit::max(REVOCATIONS_BODY_LIMIT))),
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
        "the revocation list (at most 2,404,228 bytes: 100,000 grants)",
    )?;
    if request.sequence > i64::MAX as u64 {
        return Err(Error::InvalidField {
            field: "sequence",
            expected: "an integer below 2^63",
        });
    }
    super::school_authority::verify_school(&state, school_id, &signed).await?;
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
    uri: axum::http::Uri,
) -> Result<Response> {
    let school_id = parse_id("school id", &school_id)?;
    if let Some(since) = since_query(uri.query())? {
        let stored = state
            .read(move |store| store.revocation_sequence(&school_id))
            .await?
            .ok_or(Error::NoRevocationList)?;
        if stored <= since {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
    }
    let (list, sequence) = state
        .read(move |store| store.revocations(&school_id))
        .await?
        .ok_or(Error::NoRevocationList)?;
    Ok(Json(Revocations {
        list: b64(&list),
        sequence,
    })
    .into_response())
}

/// `since` from the query string: the sequence number the client already has.
fn since_query(query: Option<&str>) -> Result<Option<u64>> {
    let mut since = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("since", value)) if since.is_none() => {
                since = Some(value.parse().map_err(|_| {
                    Error::InvalidQuery("`since` must be a sequence number (0 or more)")
                })?);
            }
            _ => {
                return Err(Error::InvalidQuery(
                    "only `since` is accepted, once, as since=SEQUENCE",
                ));
            }
        }
    }
    Ok(since)
}
