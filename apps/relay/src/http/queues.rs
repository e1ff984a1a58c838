//! Queues: create, delete, fetch and acknowledge, all but creation with a queue proof.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use satchel_core::{QUEUE_ID_LEN, ReceiveId};

use super::schools::unexpected;
use super::{AppState, ID_16, KEY_32, b64, decode_fixed, parse_id, parse_json};
use satchel_relay_api::{
    AckRequest, CreateQueueRequest, CreatedQueue, FetchResponse, FetchedMessage, MAX_PENDING_IDS,
    PendingResponse,
};

use crate::auth::{RawBody, SignedRequest};
use crate::error::{Error, Result};
use crate::server::ClientSlot;
use crate::server::admission::{AnswersRefused, HeldAnswer};
use crate::store::{WriteOp, WriteOutcome};

/// The default number of messages per fetch.
pub const DEFAULT_FETCH_LIMIT: u32 = 100;
/// The most messages per fetch.
pub const MAX_FETCH_LIMIT: u32 = 500;
/// A fetch stops adding envelopes once they total this many bytes (one is always
/// returned), so a response stays bounded; fetch again with `after`.
pub const MAX_FETCH_BYTES: usize = 1024 * 1024;
/// The most ids per acknowledgement.
pub const MAX_ACK_IDS: usize = 1000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/queues", post(create))
        .route("/v1/queues/{receive_id}", delete(remove))
        .route("/v1/queues/{receive_id}/messages", get(fetch))
        .route("/v1/queues/{receive_id}/ack", post(ack))
        .route(
            "/v1/queues/pending",
            post(pending).layer(DefaultBodyLimit::max(MAX_PENDING_IDS * QUEUE_ID_LEN)),
        )
}

/// Which of the given queues hold mail: one request for all of a client's queues, so a
/// sync costs the same whatever the number of idle conversations. The body is the
/// receive ids, 16 bytes each, concatenated. No proof is needed (a receive id is known
/// only to the queue's owner and the relay) and nothing about the request is stored.
async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<PendingResponse>> {
    super::envelopes::check_content_type(&headers)?;
    if body.len() % QUEUE_ID_LEN != 0 {
        return Err(Error::InvalidField {
            field: "body",
            expected: "receive ids of 16 bytes each, concatenated",
        });
    }
    let ids: Vec<ReceiveId> = body
        .chunks_exact(QUEUE_ID_LEN)
        .filter_map(|chunk| chunk.try_into().ok().map(ReceiveId::from_bytes))
        .collect();
    if ids.len() > MAX_PENDING_IDS {
        return Err(Error::TooLarge("the receive ids (at most 10,000)"));
    }
    let pending = state.read(move |store| store.pending(&ids)).await?;
    Ok(Json(PendingResponse {
        pending: pending
            .iter()
            .map(|id| hex::encode(id.as_bytes()))
            .collect(),
    }))
}

/// Parses a receive id from the path.
pub(crate) fn parse_receive_id(text: &str) -> Result<ReceiveId> {
    parse_id("receive id", text).map(ReceiveId::from_bytes)
}

/// Checks that the request carries a valid proof for the queue.
pub(crate) async fn check_proof(
    state: &AppState,
    signed: &SignedRequest,
    receive_id: ReceiveId,
) -> Result<()> {
    let auth_key = state
        .read(move |store| store.queue_auth_key(&receive_id))
        .await?
        .ok_or(Error::UnknownQueue)?;
    signed.verify_queue(&receive_id, &auth_key)
}

async fn create(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<(StatusCode, Json<CreatedQueue>)> {
    let request: CreateQueueRequest = parse_json(&signed.body)?;
    let send_id = decode_fixed::<16>("send_id", ID_16, &request.send_id)?;
    let auth_key = decode_fixed::<32>("auth_key", KEY_32, &request.auth_key)?;
    // Possession of the auth key: core's queue proof (what `QueueKeys::prove` makes).
    let receive_id = ReceiveId::for_key(&auth_key);
    signed.verify_queue(&receive_id, &auth_key)?;
    match state
        .writer
        .submit_one(WriteOp::CreateQueue {
            send_id,
            auth_key,
            mailbox: request.mailbox,
        })
        .await?
    {
        WriteOutcome::Queue {
            receive_id,
            created,
        } => Ok((
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(CreatedQueue {
                receive_id: hex::encode(receive_id.as_bytes()),
            }),
        )),
        WriteOutcome::Conflict => Err(Error::QueueConflict),
        other => Err(unexpected(&other)),
    }
}

async fn remove(
    State(state): State<AppState>,
    Path(receive_id): Path<String>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let receive_id = parse_receive_id(&receive_id)?;
    check_proof(&state, &signed, receive_id).await?;
    match state
        .writer
        .submit_one(WriteOp::DeleteQueue { receive_id })
        .await?
    {
        WriteOutcome::Deleted(_) => Ok(StatusCode::NO_CONTENT),
        other => Err(unexpected(&other)),
    }
}

/// `after` and `limit` from the query string.
fn fetch_query(query: Option<&str>) -> Result<(u64, u32)> {
    let mut after = 0u64;
    let mut limit = DEFAULT_FETCH_LIMIT;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("after", value)) => {
                after = value
                    .parse()
                    .map_err(|_| Error::InvalidQuery("`after` must be a message id (0 or more)"))?;
            }
            Some(("limit", value)) => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_FETCH_LIMIT).contains(n))
                    .ok_or(Error::InvalidQuery("`limit` must be between 1 and 500"))?;
            }
            _ => {
                return Err(Error::InvalidQuery(
                    "only `after` and `limit` are accepted, as after=ID&limit=N",
                ));
            }
        }
    }
    Ok((after, limit))
}

async fn fetch(
    State(state): State<AppState>,
    slot: Option<Extension<ClientSlot>>,
    Path(receive_id): Path<String>,
    uri: axum::http::Uri,
    signed: SignedRequest,
) -> Result<Response> {
    let receive_id = parse_receive_id(&receive_id)?;
    let (after, limit) = fetch_query(uri.query())?;
    check_proof(&state, &signed, receive_id).await?;
    let page = state
        .read(move |store| store.fetch(&receive_id, after, limit, MAX_FETCH_BYTES))
        .await?;
    state.metrics.fetched(page.messages.len() as u64);
    let answer = serde_json::to_vec(&FetchResponse {
        more: Some(page.more),
        messages: page
            .messages
            .into_iter()
            .map(|m| FetchedMessage {
                id: m.id,
                envelope: b64(&m.envelope),
            })
            .collect(),
    })
    .map_err(|e| Error::Internal(format!("a fetch answer could not be encoded: {e}")))?;
    held_answer(slot.as_deref(), answer)
}

/// Answers above this size count against the client network's share of unsent answers
/// (`server/admission.rs`); smaller ones fit the connection's kernel send buffer.
const HELD_ABOVE: usize = 64 * 1024;

/// A JSON answer whose bytes, if large, count against the client network's share until
/// they have been handed to the kernel or the connection is gone.
fn held_answer(slot: Option<&ClientSlot>, answer: Vec<u8>) -> Result<Response> {
    let body = match slot {
        Some(slot) if answer.len() > HELD_ABOVE => {
            let hold = slot
                .hold_answer(answer.len())
                .map_err(|refused| match refused {
                    AnswersRefused::Network => Error::UnreadAnswers,
                    AnswersRefused::Total => Error::AnswersBusy,
                })?;
            Body::from(Bytes::from_owner(HeldAnswer {
                bytes: answer,
                hold,
            }))
        }
        _ => Body::from(answer),
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn ack(
    State(state): State<AppState>,
    Path(receive_id): Path<String>,
    signed: SignedRequest,
) -> Result<StatusCode> {
    let receive_id = parse_receive_id(&receive_id)?;
    let request: AckRequest = parse_json(&signed.body)?;
    if request.ids.len() > MAX_ACK_IDS {
        return Err(Error::TooLarge("the ids list (at most 1,000 ids)"));
    }
    check_proof(&state, &signed, receive_id).await?;
    match state
        .writer
        .submit_one(WriteOp::Ack {
            receive_id,
            ids: request.ids,
        })
        .await?
    {
        WriteOutcome::Deleted(_) => Ok(StatusCode::NO_CONTENT),
        WriteOutcome::NotFound => Err(Error::UnknownQueue),
        other => Err(unexpected(&other)),
    }
}
