//! Deposits: one envelope, a batch committed in the same group commit, or one group
//! message for many queues, stored once (a shared deposit).

use axum::Extension;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use satchel_core::{EnvelopeError, MAX_ENVELOPE_LEN};

use super::AppState;
use super::schools::unexpected;
use satchel_relay_api::shared_deposit::{self, MAX_SHARED_RECIPIENTS};
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
        .route(
            "/v1/envelopes/shared",
            post(deposit_shared).layer(DefaultBodyLimit::max(
                2 + 16 * MAX_SHARED_RECIPIENTS + satchel_core::group::MAX_GROUP_DEPOSIT_LEN,
            )),
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
            state.metrics.deposited(1);
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

/// A group message for many queues: stored once, one message per queue, all committed
/// in one transaction; one result per queue.
async fn deposit_shared(
    State(state): State<AppState>,
    slot: Option<Extension<ClientSlot>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<BatchDepositResponse>> {
    check_content_type(&headers)?;
    let (send_ids, message) = shared_deposit::decode(&body).map_err(|error| match error {
        shared_deposit::SharedDepositError::RecipientCount(n) if n > MAX_SHARED_RECIPIENTS => {
            Error::TooLarge("the shared deposit (at most 5,000 queues)")
        }
        shared_deposit::SharedDepositError::RecipientCount(_) => {
            Error::InvalidBatch("a shared deposit names at least one queue")
        }
        shared_deposit::SharedDepositError::Truncated => {
            Error::InvalidBatch("it ends inside its list of queues")
        }
        shared_deposit::SharedDepositError::Duplicate => {
            Error::InvalidBatch("a queue is listed twice")
        }
        _ => Error::InvalidBatch("it is not a shared deposit"),
    })?;
    if !satchel_core::group::is_possible_group_message(message) {
        return Err(Error::InvalidEnvelope(format!(
            "a group message is {} to {} bytes, not {}",
            satchel_core::group::MIN_GROUP_MESSAGE_LEN,
            satchel_core::group::MAX_GROUP_DEPOSIT_LEN,
            message.len()
        )));
    }
    let mut prefix = [0u8; 17];
    prefix[0] = satchel_core::group::GROUP_ENVELOPE_KIND;
    let op = WriteOp::DepositShared {
        send_ids,
        prefix,
        body: message.to_vec(),
        quota: state.quota,
        now: coarse_hour(),
        sender: sender(&state, slot.as_deref()),
    };
    let outcome = state.writer.submit_one(op).await?;
    let WriteOutcome::DepositedShared(outcomes) = outcome else {
        return Err(unexpected(&outcome));
    };
    let results = outcomes
        .into_iter()
        .map(|outcome| item_result(deposit_result(&state, outcome)))
        .collect::<Result<_>>()?;
    Ok(Json(BatchDepositResponse { results }))
}

/// One item's result in a batch answer; only an internal failure fails the request.
fn item_result(result: Result<u64>) -> Result<BatchItemResult> {
    match result {
        Ok(id) => Ok(BatchItemResult::Stored { id }),
        Err(Error::Internal(detail)) => Err(Error::Internal(detail)),
        Err(error) => Ok(BatchItemResult::Failed {
            error: error.code(),
        }),
    }
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
        results.push(item_result(result)?);
    }
    Ok(Json(BatchDepositResponse { results }))
}
