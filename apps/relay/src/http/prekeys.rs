//! One-time prekeys: uploaded by a device (signed by the bundle's owner key), each handed
//! out at most once, and only to a member of the owner's school (a request signed with
//! a member key named in `Satchel-Key`), at most `--prekey-takes-per-hour` per member.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_relay_api::{PrekeyCount, PrekeyUpload, TakenPrekey};

use super::schools::unexpected;
use super::{AppState, KEY_32, b64, decode_fixed, parse_id, parse_json};
use crate::auth::SignedRequest;
use crate::error::{Error, Result};
use crate::store::{UploadedPrekey, WriteOp, WriteOutcome};

/// The expected-text for 64-byte signatures.
pub(crate) const SIGNATURE_64: &str = "64 bytes in base64url without padding";

/// The most one-time prekeys a bundle holds.
pub const MAX_PREKEYS_PER_BUNDLE: u64 = 1000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/prekeys/{bundle_id}", post(upload))
        .route("/v1/prekeys/{bundle_id}/take", post(take))
        .route("/v1/prekeys/{bundle_id}/count", get(count))
}

async fn upload(
    State(state): State<AppState>,
    Path(bundle_id): Path<String>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let bundle_id = parse_id("bundle id", &bundle_id)?;
    let request: PrekeyUpload = parse_json(&signed.body)?;
    let owner_key = decode_fixed::<32>("owner_key", KEY_32, &request.owner_key)?;
    if request.keys.len() as u64 > MAX_PREKEYS_PER_BUNDLE {
        return Err(Error::TooManyPrekeys(MAX_PREKEYS_PER_BUNDLE));
    }
    let keys = request
        .keys
        .iter()
        .map(|k| {
            Ok(UploadedPrekey {
                id: k.id,
                key: decode_fixed::<32>("keys[].key", KEY_32, &k.key)?,
                signature: decode_fixed::<64>("keys[].signature", SIGNATURE_64, &k.signature)?
                    .to_vec(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    signed.verify(&owner_key)?;
    match state
        .writer
        .submit_one(WriteOp::PutPrekeys {
            bundle_id,
            owner_key,
            keys,
            max_stored: MAX_PREKEYS_PER_BUNDLE,
        })
        .await?
    {
        WriteOutcome::Done => Ok(StatusCode::NO_CONTENT),
        WriteOutcome::Forbidden => Err(Error::Forbidden(
            "this bundle belongs to another key; sign with the key of the first upload",
        )),
        WriteOutcome::Full => Err(Error::TooManyPrekeys(MAX_PREKEYS_PER_BUNDLE)),
        WriteOutcome::Revoked => Err(Error::MembershipRevoked),
        other => Err(unexpected(&other)),
    }
}

async fn take(
    State(state): State<AppState>,
    Path(bundle_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<TakenPrekey>> {
    let bundle_id = parse_id("bundle id", &bundle_id)?;
    let member = signed.named_key()?.ok_or(Error::AuthRequired)?;
    signed.verify(&member)?;
    // The same answer for an unknown bundle and a stranger: a key that is no member of
    // the owner's school learns nothing about which bundles exist.
    if !state
        .read(move |store| store.may_take_prekeys(&bundle_id, &member))
        .await?
    {
        if state
            .read(move |store| store.is_revoked_member(&member))
            .await?
        {
            return Err(Error::MembershipRevoked);
        }
        return Err(Error::Forbidden(
            "only a member of the bundle owner's school may take its one-time prekeys: \
             sign with your member key and name it in Satchel-Key",
        ));
    }
    state
        .prekey_takes
        .take(&member)
        .map_err(|wait| Error::TooManyTakes {
            retry_after_secs: wait.as_secs().saturating_add(1),
        })?;
    match state
        .writer
        .submit_one(WriteOp::TakePrekey { bundle_id })
        .await?
    {
        WriteOutcome::Prekey(taken) => Ok(Json(TakenPrekey {
            id: taken.id,
            key: b64(&taken.key),
            signature: (!taken.signature.is_empty()).then(|| b64(&taken.signature)),
        })),
        WriteOutcome::NotFound => Err(Error::NoPrekeys),
        other => Err(unexpected(&other)),
    }
}

async fn count(
    State(state): State<AppState>,
    Path(bundle_id): Path<String>,
    signed: SignedRequest,
) -> Result<Json<PrekeyCount>> {
    let bundle_id = parse_id("bundle id", &bundle_id)?;
    let owner = state
        .read(move |store| store.prekey_owner(&bundle_id))
        .await?
        .ok_or(Error::UnknownBundle)?;
    signed.verify(&owner)?;
    let count = state
        .read(move |store| store.prekey_count(&bundle_id))
        .await?;
    Ok(Json(PrekeyCount { count }))
}
