//! `POST /v1/schools/{school_id}/revoked-members`: the school root tells the relay which
//! grants it revoked, so the relay stops accepting the member keys that redeemed them
//! (directory writes, prekey uploads and takes, a second redemption).
//!
//! The revocation list tells members whom not to trust; this tells the relay whom not
//! to serve. A revoked member's modified app then cannot keep using the school's
//! objects. Deposits stay anonymous by design, so a revoked member who kept a queue's
//! send id can still deposit into it; recipients' apps show such messages as NOT
//! VERIFIED.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use satchel_relay_api::{MAX_REVOKE_MEMBERS, RevokeMembersRequest, RevokeMembersResponse};

use super::schools::unexpected;
use super::{AppState, KEY_32, decode_fixed, parse_id, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{WriteOp, WriteOutcome};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/schools/{school_id}/revoked-members",
        post(revoke_members),
    )
}

async fn revoke_members(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<RevokeMembersResponse>> {
    let school_id = parse_id("school id", &school_id)?;
    let request: RevokeMembersRequest = parse_json(&signed.body)?;
    if request.grant_keys.len() + request.invites.len() > MAX_REVOKE_MEMBERS {
        return Err(Error::TooLarge("the list of grant keys and invites"));
    }
    let grant_keys = request
        .grant_keys
        .iter()
        .map(|key| decode_fixed::<32>("grant_keys[]", KEY_32, key))
        .collect::<Result<Vec<_>>>()?;
    let lookup_ids = request
        .invites
        .iter()
        .map(|id| {
            parse_id("invite", id).map_err(|_| Error::InvalidField {
                field: "invites[]",
                expected: "16 bytes as lowercase hex",
            })
        })
        .collect::<Result<Vec<_>>>()?;
    super::school_authority::verify_school(&state, school_id, &signed).await?;
    match state
        .writer
        .submit_one(WriteOp::RevokeMembers {
            school_id,
            grant_keys,
            lookup_ids,
        })
        .await?
    {
        WriteOutcome::Deleted(revoked) => Ok(Json(RevokeMembersResponse { revoked })),
        WriteOutcome::UnknownSchool => Err(Error::UnknownSchool),
        other => Err(unexpected(&other)),
    }
}
