//! Invites: opaque encrypted enrolment records that a parent's device redeems once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_relay_api::{
    InviteResponse, PutInviteRequest, RedeemInviteRequest, RedeemInviteResponse,
};

use super::schools::unexpected;
use super::{AppState, KEY_32, b64, decode_blob, decode_fixed, parse_id, parse_json};
use crate::auth::{SignedRequest, now_unix};
use crate::error::{Error, Result};
use crate::store::{Id16, PublicKey, WriteOp, WriteOutcome};

/// The largest invite record, in bytes.
pub const MAX_INVITE_RECORD: usize = 16 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/schools/{school_id}/invites/{lookup_id}",
            get(get_invite).put(put_invite).delete(delete_invite),
        )
        .route(
            "/v1/schools/{school_id}/invites/{lookup_id}/redeem",
            post(redeem),
        )
}

/// Reads the root key of a registered school.
pub(crate) async fn school_root(state: &AppState, school_id: Id16) -> Result<PublicKey> {
    state
        .read(move |store| store.school_root(&school_id))
        .await?
        .ok_or(Error::UnknownSchool)
}

fn ids(school_id: &str, lookup_id: &str) -> Result<(Id16, Id16)> {
    Ok((
        parse_id("school id", school_id)?,
        parse_id("invite lookup id", lookup_id)?,
    ))
}

async fn put_invite(
    State(state): State<AppState>,
    Path((school_id, lookup_id)): Path<(String, String)>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let (school_id, lookup_id) = ids(&school_id, &lookup_id)?;
    let request: PutInviteRequest = parse_json(&signed.body)?;
    let record = decode_blob(
        "record",
        &request.record,
        MAX_INVITE_RECORD,
        "the invite record (at most 16 KiB)",
    )?;
    let redeem_key = decode_fixed::<32>("redeem_key", KEY_32, &request.redeem_key)?;
    if request.expires_at <= now_unix() {
        return Err(Error::InvalidField {
            field: "expires_at",
            expected: "a unix time in the future",
        });
    }
    super::school_authority::verify_school(&state, school_id, &signed).await?;
    match state
        .writer
        .submit_one(WriteOp::PutInvite {
            school_id,
            lookup_id,
            record,
            redeem_key,
            expires_at: request.expires_at,
        })
        .await?
    {
        WriteOutcome::Created | WriteOutcome::Unchanged => Ok(StatusCode::CREATED),
        WriteOutcome::Conflict => Err(Error::InviteUsed),
        WriteOutcome::UnknownSchool => Err(Error::UnknownSchool),
        other => Err(unexpected(&other)),
    }
}

async fn get_invite(
    State(state): State<AppState>,
    Path((school_id, lookup_id)): Path<(String, String)>,
) -> Result<Json<InviteResponse>> {
    let (school_id, lookup_id) = ids(&school_id, &lookup_id)?;
    let now = now_unix();
    let invite = state
        .read(move |store| store.invite(&school_id, &lookup_id, now))
        .await?
        .ok_or(Error::UnknownInvite)?;
    // A redeemed invite's record was erased at redemption; say so rather than serve
    // an empty record.
    if invite.redeemed {
        return Err(Error::InviteUsed);
    }
    Ok(Json(InviteResponse {
        record: b64(&invite.record),
        redeemed: false,
    }))
}

async fn redeem(
    State(state): State<AppState>,
    Path((school_id, lookup_id)): Path<(String, String)>,
    signed: SignedRequest,
) -> Result<Json<RedeemInviteResponse>> {
    let (school_id, lookup_id) = ids(&school_id, &lookup_id)?;
    let request: RedeemInviteRequest = parse_json(&signed.body)?;
    let member_key = decode_fixed::<32>("member_key", KEY_32, &request.member_key)?;
    let now = now_unix();
    let invite = state
        .read(move |store| store.invite(&school_id, &lookup_id, now))
        .await?
        .ok_or(Error::UnknownInvite)?;
    signed.verify(&invite.redeem_key)?;
    // Redeemed already: only a retry by the same member key (a join that stopped after
    // redeeming) gets the same answer again; the writer decides that atomically.
    if invite.redeemed && invite.redeemed_by != Some(member_key) {
        return Err(Error::InviteUsed);
    }
    match state
        .writer
        .submit_one(WriteOp::RedeemInvite {
            school_id,
            lookup_id,
            redeem_key: invite.redeem_key,
            member_key,
            now,
        })
        .await?
    {
        WriteOutcome::Done => Ok(Json(RedeemInviteResponse { redeemed: true })),
        WriteOutcome::Conflict => Err(Error::InviteUsed),
        WriteOutcome::NotFound => Err(Error::UnknownInvite),
        WriteOutcome::Forbidden => Err(Error::BadSignature),
        WriteOutcome::Revoked => Err(Error::MembershipRevoked),
        other => Err(unexpected(&other)),
    }
}

async fn delete_invite(
    State(state): State<AppState>,
    Path((school_id, lookup_id)): Path<(String, String)>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let (school_id, lookup_id) = ids(&school_id, &lookup_id)?;
    super::school_authority::verify_school(&state, school_id, &signed).await?;
    match state
        .writer
        .submit_one(WriteOp::DeleteInvite {
            school_id,
            lookup_id,
        })
        .await?
    {
        WriteOutcome::Deleted(_) => Ok(StatusCode::NO_CONTENT),
        other => Err(unexpected(&other)),
    }
}
