//! The school directory: opaque encrypted entries, written by the school root or by a
//! member key recorded by a redeemed invite (one entry per member key).
//!
//! A member identifies its key with the `Satchel-Key` header (base64url of the 32-byte
//! key); without it the signature is checked against the school root and then against
//! the entry's existing owner.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use satchel_relay_api::{
    DirectoryEntry, DirectoryEntryPut, DirectoryList, PutDirectoryEntryRequest,
};

use super::invites::school_root;
use super::schools::unexpected;
use super::{AppState, b64, decode_blob, parse_id, parse_json};
use crate::auth::{SignedRequest, now_unix};
use crate::error::{Error, Result};
use crate::store::{DirectoryWriter, Id16, WriteOp, WriteOutcome};

/// The largest directory entry, in bytes.
pub const MAX_DIRECTORY_ENTRY: usize = 32 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/schools/{school_id}/directory", get(list))
        .route(
            "/v1/schools/{school_id}/directory/{entry_id}",
            put(put_entry).delete(delete_entry),
        )
}

/// Works out who signed: a member naming its key, the root, or the entry's owner.
async fn writer(
    state: &AppState,
    signed: &SignedRequest,
    school_id: Id16,
    entry_id: Id16,
) -> Result<DirectoryWriter> {
    if signed
        .headers
        .contains_key(satchel_relay_api::OFFICE_HEADER)
    {
        super::school_authority::verify_school(state, school_id, signed).await?;
        return Ok(DirectoryWriter::Root);
    }
    let root = school_root(state, school_id).await?;
    if let Some(key) = signed.named_key()? {
        signed.verify(&key)?;
        return Ok(if key == root {
            DirectoryWriter::Root
        } else {
            DirectoryWriter::Member(key)
        });
    }
    if signed.verify(&root).is_ok() {
        return Ok(DirectoryWriter::Root);
    }
    let owner = state
        .read(move |store| store.directory_owner(&school_id, &entry_id))
        .await?;
    match owner {
        Some(Some(owner)) => {
            signed.verify(&owner)?;
            Ok(DirectoryWriter::Member(owner))
        }
        _ => Err(Error::BadSignature),
    }
}

/// Directory times are rounded down to the minute.
fn coarse_now() -> i64 {
    let now = now_unix();
    now - now.rem_euclid(60)
}

async fn put_entry(
    State(state): State<AppState>,
    Path((school_id, entry_id)): Path<(String, String)>,
    signed: SignedRequest,
) -> Result<(StatusCode, Json<DirectoryEntryPut>)> {
    let school_id = parse_id("school id", &school_id)?;
    let entry_id = parse_id("entry id", &entry_id)?;
    let request: PutDirectoryEntryRequest = parse_json(&signed.body)?;
    let entry = decode_blob(
        "entry",
        &request.entry,
        MAX_DIRECTORY_ENTRY,
        "the directory entry (at most 32 KiB)",
    )?;
    let writer = writer(&state, &signed, school_id, entry_id).await?;
    let now = coarse_now();
    let status = match state
        .writer
        .submit_one(WriteOp::PutDirectoryEntry {
            school_id,
            entry_id,
            entry,
            writer,
            now,
        })
        .await?
    {
        WriteOutcome::Created => StatusCode::CREATED,
        WriteOutcome::Unchanged => StatusCode::OK,
        WriteOutcome::Forbidden => {
            return Err(Error::Forbidden(
                "this key may not write this entry: it belongs to another key, this key \
                 already owns an entry, or no redeemed invite recorded this key",
            ));
        }
        WriteOutcome::Revoked => return Err(Error::MembershipRevoked),
        WriteOutcome::UnknownSchool => return Err(Error::UnknownSchool),
        other => return Err(unexpected(&other)),
    };
    Ok((
        status,
        Json(DirectoryEntryPut {
            entry_id: hex::encode(entry_id),
            updated_at: now,
        }),
    ))
}

async fn delete_entry(
    State(state): State<AppState>,
    Path((school_id, entry_id)): Path<(String, String)>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let school_id = parse_id("school id", &school_id)?;
    let entry_id = parse_id("entry id", &entry_id)?;
    let writer = writer(&state, &signed, school_id, entry_id).await?;
    match state
        .writer
        .submit_one(WriteOp::DeleteDirectoryEntry {
            school_id,
            entry_id,
            writer,
        })
        .await?
    {
        WriteOutcome::Deleted(_) => Ok(StatusCode::NO_CONTENT),
        WriteOutcome::Forbidden => Err(Error::Forbidden(
            "only the school root or the entry's owner may delete it",
        )),
        WriteOutcome::Revoked => Err(Error::MembershipRevoked),
        other => Err(unexpected(&other)),
    }
}

async fn list(
    State(state): State<AppState>,
    Path(school_id): Path<String>,
) -> Result<Json<DirectoryList>> {
    let school_id = parse_id("school id", &school_id)?;
    let entries = state
        .read(move |store| {
            if store.school_root(&school_id)?.is_none() {
                return Ok(None);
            }
            store.directory(&school_id).map(Some)
        })
        .await?
        .ok_or(Error::UnknownSchool)?;
    Ok(Json(DirectoryList {
        entries: entries
            .into_iter()
            .map(|e| DirectoryEntry {
                entry_id: hex::encode(e.entry_id),
                entry: b64(&e.entry),
                updated_at: e.updated_at,
            })
            .collect(),
    }))
}
