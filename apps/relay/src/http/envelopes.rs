//! Deposits: one envelope, or a batch committed in the same group commit.

use axum::Extension;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use satchel_core::{EnvelopeError, MAX_ENVELOPE_LEN};

use super::AppState;
use super::schools::unexpected;
use satchel_relay_api::{BatchDepositResponse, BatchItemResult, Deposited};

use crate::auth::{RawBody, now_unix};
use crate::error::{Error, Result};
use crate::server::ClientSlot;
use crate::store::{MailboxSender, WriteOp, WriteOutcome};

/// The most envelopes in one batch.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// The most envelope bytes in one batch (framing not counted).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/envelopes",
            post(deposit).layer(DefaultBodyLimit::max(MAX_ENVELOPE_LEN)),
        )
        .route(
            "/v1/envelopes/batch",
            post(deposit_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES + 4 * MAX_BATCH_ITEMS)),
        )
}

/// Message timestamps are rounded down to the hour: enough for retention, and they say
/// little about when exactly someone wrote.
fn coarse_hour() -> i64 {
    let now = now_unix();
    now - now.rem_euclid(3600)
}

pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if ok {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType)
    }
}

/// Who deposits, for the per-sender limit of contact mailboxes (`None` without
/// connection information, e.g. in-process tests).
fn sender(state: &AppState, slot: Option<&ClientSlot>) -> Option<MailboxSender> {
    slot.map(|slot| MailboxSender {
        network: slot.network_key(),
        per_hour: state.mailbox_limit.per_hour,
        burst: state.mailbox_limit.burst,
    })
}

/// Validates one envelope and builds its deposit.
fn deposit_op(
    state: &AppState,
    bytes: Vec<u8>,
    now: i64,
    sender: Option<MailboxSender>,
) -> Result<WriteOp> {
    let envelope = satchel_core::Envelope::from_vec(bytes).map_err(|e| match e {
        EnvelopeError::TooLong { .. } => Error::TooLarge("the envelope (at most 320 KiB)"),
        other => Error::InvalidEnvelope(other.to_string()),
    })?;
    let send_id = *envelope.send_id().as_bytes();
    Ok(WriteOp::Deposit {
        send_id,
        envelope: envelope.into_bytes(),
        quota: state.quota,
        now,
        sender,
    })
}

/// Maps a deposit outcome; notifies the queue's WebSockets on success.
fn deposit_result(state: &AppState, outcome: WriteOutcome) -> Result<u64> {
    match outcome {
        WriteOutcome::Deposited { id, receive_id } => {
            state.push.notify(&receive_id);
            Ok(id)
        }
        WriteOutcome::NotFound => Err(Error::UnknownQueue),
        WriteOutcome::Full => Err(Error::QueueFull),
        WriteOutcome::Throttled { retry_after_secs } => {
            Err(Error::MailboxBusy { retry_after_secs })
        }
        other => Err(unexpected(&other)),
    }
}

async fn deposit(
    State(state): State<AppState>,
    slot: Option<Extension<ClientSlot>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Deposited>)> {
    check_content_type(&headers)?;
    let sender = sender(&state, slot.as_deref());
    let op = deposit_op(&state, body.to_vec(), coarse_hour(), sender)?;
    let outcome = state.writer.submit_one(op).await?;
    let id = deposit_result(&state, outcome)?;
    Ok((StatusCode::ACCEPTED, Json(Deposited { id })))
}

/// Splits `(u32 big-endian length || envelope)*` into items.
fn split_batch(mut body: &[u8]) -> Result<Vec<&[u8]>> {
    let mut items = Vec::new();
    while !body.is_empty() {
        let Some((length, rest)) = body.split_first_chunk::<4>() else {
            return Err(Error::InvalidBatch("it ends inside a length prefix"));
        };
        let length = usize::try_from(u32::from_be_bytes(*length))
            .map_err(|_| Error::InvalidBatch("a length does not fit in memory"))?;
        let Some((item, rest)) = rest.split_at_checked(length) else {
            return Err(Error::InvalidBatch(
                "an item is shorter than its length prefix",
            ));
        };
        if items.len() == MAX_BATCH_ITEMS {
            return Err(Error::TooLarge("the batch (at most 1,000 envelopes)"));
        }
        items.push(item);
        body = rest;
    }
    Ok(items)
}

async fn deposit_batch(
    State(state): State<AppState>,
    slot: Option<Extension<ClientSlot>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<BatchDepositResponse>> {
    check_content_type(&headers)?;
    let sender = sender(&state, slot.as_deref());
    let items = split_batch(&body)?;
    let now = coarse_hour();
    // Invalid items get their error now; valid ones are committed together.
    let mut invalid: Vec<Option<Error>> = Vec::with_capacity(items.len());
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        match deposit_op(&state, item.to_vec(), now, sender) {
            Ok(op) => {
                ops.push(op);
                invalid.push(None);
            }
            Err(error) => invalid.push(Some(error)),
        }
    }
    let outcomes = if ops.is_empty() {
        Vec::new()
    } else {
        state.writer.submit(ops).await?
    };
    let mut outcomes = outcomes.into_iter();
    let mut results = Vec::with_capacity(invalid.len());
    for item in invalid {
        let result = match item {
            Some(error) => Err(error),
            None => match outcomes.next() {
                Some(outcome) => deposit_result(&state, outcome),
                None => Err(Error::Internal(
                    "the store returned too few outcomes".to_owned(),
                )),
            },
        };
        results.push(match result {
            Ok(id) => BatchItemResult::Stored { id },
            Err(Error::Internal(detail)) => return Err(Error::Internal(detail)),
            Err(error) => BatchItemResult::Failed {
                error: error.code(),
            },
        });
    }
    Ok(Json(BatchDepositResponse { results }))
}
