//! The relay transport: one typed method per relay endpoint (`docs/RELAY_API.md`), with
//! request signing. Async (reqwest on tokio); errors say what to do.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use satchel_core::relay_request::{RequestKey, request_message};
use satchel_core::school::{EntryId, Invite, JoinKeys, RevocationList, SchoolId, SchoolRoot};
use satchel_core::{Envelope, QueueKeys};
use serde::Deserialize;
use serde_json::{Value, json};

/// Talking to the relay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// No connection, timeout, or an unreadable answer.
    #[error(
        "cannot reach the relay ({0}): check the relay address and the network, then try again"
    )]
    Network(#[from] reqwest::Error),
    /// The relay refused the request; `message` is the relay's explanation.
    #[error("the relay refused the request ({code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The relay's machine-readable code, e.g. `invite_used`.
        code: String,
        /// The relay's sentence for people.
        message: String,
    },
    /// The relay address is not an `http://` or `https://` URL.
    #[error("the relay address {0:?} is not an http:// or https:// address: check it")]
    InvalidUrl(String),
    /// The relay answered with something this client does not understand.
    #[error(
        "the relay sent an unexpected answer ({0}): is this a Satchel relay of a compatible version?"
    )]
    Unexpected(&'static str),
}

impl RelayError {
    /// The relay's error code, if it refused the request.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            RelayError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Who signs a request.
enum Signer<'a> {
    None,
    Root(&'a SchoolRoot),
    Join(&'a JoinKeys),
    Key(&'a RequestKey),
    Queue(&'a QueueKeys),
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64<const N: usize>(value: &Value, field: &'static str) -> Result<Vec<u8>, RelayError> {
    let text = value
        .get(field)
        .and_then(Value::as_str)
        .ok_or(RelayError::Unexpected(field))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| RelayError::Unexpected(field))?;
    if N != 0 && bytes.len() != N {
        return Err(RelayError::Unexpected(field));
    }
    Ok(bytes)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One fetched envelope.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The relay's id for it (acknowledge with this).
    pub id: u64,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// A client for one relay.
#[derive(Debug, Clone)]
pub struct RelayClient {
    base: String,
    http: reqwest::Client,
}

impl RelayClient {
    /// A client for the relay at `base_url` (e.g. `http://127.0.0.1:7878`).
    ///
    /// # Errors
    /// [`RelayError::InvalidUrl`] unless `base_url` is an `http://` or `https://`
    /// address; [`RelayError::Network`] if the HTTP client cannot be built.
    pub fn new(base_url: &str) -> Result<Self, RelayError> {
        let host = base_url
            .strip_prefix("https://")
            .or_else(|| base_url.strip_prefix("http://"));
        if host
            .is_none_or(|h| h.trim_end_matches('/').is_empty() || h.contains(char::is_whitespace))
        {
            return Err(RelayError::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        json_body: bool,
        signer: Signer<'_>,
    ) -> Result<(StatusCode, Vec<u8>), RelayError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        let timestamp = now();
        let m = method.as_str();
        let signature = match &signer {
            Signer::None => None,
            Signer::Root(root) => Some(root.sign_request(m, path, timestamp, &body)),
            Signer::Join(keys) => Some(keys.sign_request(m, path, timestamp, &body)),
            Signer::Key(key) => Some(key.sign_request(m, path, timestamp, &body)),
            Signer::Queue(queue) => Some(queue.prove(&request_message(m, path, timestamp, &body))),
        };
        if let Some(signature) = signature {
            request = request.header("Satchel-Auth", format!("{timestamp}.{}", b64(&signature)));
        }
        if let Signer::Key(key) = signer {
            // Tells the relay which member key signed (directory writes).
            request = request.header("Satchel-Key", b64(&key.public()));
        }
        let content_type = if json_body {
            "application/json"
        } else {
            "application/octet-stream"
        };
        let response = request
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if status.is_success() {
            return Ok((status, bytes));
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(match parsed {
            Some(body) => RelayError::Rejected {
                status: status.as_u16(),
                code: body.error,
                message: body.message,
            },
            None => RelayError::Rejected {
                status: status.as_u16(),
                code: "http_error".into(),
                message: status.canonical_reason().unwrap_or("error").into(),
            },
        })
    }

    async fn call_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        signer: Signer<'_>,
    ) -> Result<Value, RelayError> {
        let body = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
        let (_, bytes) = self.call(method, path, body, true, signer).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| RelayError::Unexpected("json"))
    }

    /// Registers the school (idempotent).
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn register_school(&self, root: &SchoolRoot) -> Result<(), RelayError> {
        let body = json!({ "root_key": b64(root.public().as_bytes()) });
        self.call_json(Method::POST, "/v1/schools", Some(body), Signer::Root(root))
            .await?;
        Ok(())
    }

    /// Uploads an invite's encrypted record.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_invite(
        &self,
        root: &SchoolRoot,
        invite: &Invite,
        expires_at: u64,
    ) -> Result<(), RelayError> {
        let path = format!(
            "/v1/schools/{}/invites/{}",
            root.school_id().to_hex(),
            hex::encode(invite.lookup_id)
        );
        let body = json!({
            "record": b64(&invite.record),
            "redeem_key": b64(&invite.redeem_key),
            "expires_at": expires_at,
        });
        self.call_json(Method::PUT, &path, Some(body), Signer::Root(root))
            .await?;
        Ok(())
    }

    /// Fetches an invite record: `(record, redeemed)`.
    ///
    /// # Errors
    /// [`RelayError`]; `not_found` if the code is unknown or expired.
    pub async fn get_invite(
        &self,
        school: &SchoolId,
        keys: &JoinKeys,
    ) -> Result<(Vec<u8>, bool), RelayError> {
        let path = format!(
            "/v1/schools/{}/invites/{}",
            school.to_hex(),
            hex::encode(keys.lookup_id())
        );
        let value = self
            .call_json(Method::GET, &path, None, Signer::None)
            .await?;
        let redeemed = value
            .get("redeemed")
            .and_then(Value::as_bool)
            .ok_or(RelayError::Unexpected("redeemed"))?;
        Ok((unb64::<0>(&value, "record")?, redeemed))
    }

    /// Redeems an invite, allowing `member_key` to write one directory entry.
    ///
    /// # Errors
    /// [`RelayError`]; code `invite_used` if it was redeemed before.
    pub async fn redeem_invite(
        &self,
        school: &SchoolId,
        keys: &JoinKeys,
        member_key: &RequestKey,
    ) -> Result<(), RelayError> {
        let path = format!(
            "/v1/schools/{}/invites/{}/redeem",
            school.to_hex(),
            hex::encode(keys.lookup_id())
        );
        let body = json!({ "member_key": b64(&member_key.public()) });
        self.call_json(Method::POST, &path, Some(body), Signer::Join(keys))
            .await?;
        Ok(())
    }

    /// Publishes a revocation list.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_revocations(
        &self,
        root: &SchoolRoot,
        list: &RevocationList,
    ) -> Result<(), RelayError> {
        let path = format!("/v1/schools/{}/revocations", root.school_id().to_hex());
        let body = json!({ "list": b64(&list.to_bytes()), "sequence": list.sequence() });
        self.call_json(Method::PUT, &path, Some(body), Signer::Root(root))
            .await?;
        Ok(())
    }

    /// The latest revocation list (unverified bytes), if any.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn get_revocations(&self, school: &SchoolId) -> Result<Option<Vec<u8>>, RelayError> {
        let path = format!("/v1/schools/{}/revocations", school.to_hex());
        match self.call_json(Method::GET, &path, None, Signer::None).await {
            Ok(value) => Ok(Some(unb64::<0>(&value, "list")?)),
            Err(RelayError::Rejected { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes this member's (encrypted) directory entry.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn put_directory_entry(
        &self,
        school: &SchoolId,
        entry: &EntryId,
        blob: &[u8],
        key: &RequestKey,
    ) -> Result<(), RelayError> {
        let path = format!(
            "/v1/schools/{}/directory/{}",
            school.to_hex(),
            hex::encode(entry.as_bytes())
        );
        self.call_json(
            Method::PUT,
            &path,
            Some(json!({ "entry": b64(blob) })),
            Signer::Key(key),
        )
        .await?;
        Ok(())
    }

    /// All (encrypted) directory entries.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn directory(
        &self,
        school: &SchoolId,
    ) -> Result<Vec<(EntryId, Vec<u8>)>, RelayError> {
        let path = format!("/v1/schools/{}/directory", school.to_hex());
        let value = self
            .call_json(Method::GET, &path, None, Signer::None)
            .await?;
        let entries = value
            .get("entries")
            .and_then(Value::as_array)
            .ok_or(RelayError::Unexpected("entries"))?;
        entries
            .iter()
            .map(|entry| {
                let id = entry
                    .get("entry_id")
                    .and_then(Value::as_str)
                    .ok_or(RelayError::Unexpected("entry_id"))?;
                let id: [u8; 16] = hex::decode(id)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or(RelayError::Unexpected("entry_id"))?;
                Ok((EntryId::from_bytes(id), unb64::<0>(entry, "entry")?))
            })
            .collect()
    }

    /// Uploads one-time prekeys for `bundle_id`, owned by `owner`.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn upload_prekeys(
        &self,
        bundle_id: &[u8; 16],
        owner: &RequestKey,
        keys: &[(u32, [u8; 32])],
    ) -> Result<(), RelayError> {
        let path = format!("/v1/prekeys/{}", hex::encode(bundle_id));
        let keys: Vec<Value> = keys
            .iter()
            .map(|(id, key)| json!({ "id": id, "key": b64(key) }))
            .collect();
        let body = json!({ "owner_key": b64(&owner.public()), "keys": keys });
        self.call_json(Method::POST, &path, Some(body), Signer::Key(owner))
            .await?;
        Ok(())
    }

    /// Takes one one-time prekey of `bundle_id`, or `None` when none are left.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn take_prekey(
        &self,
        bundle_id: &[u8; 16],
    ) -> Result<Option<(u32, [u8; 32])>, RelayError> {
        let path = format!("/v1/prekeys/{}/take", hex::encode(bundle_id));
        match self
            .call_json(Method::POST, &path, None, Signer::None)
            .await
        {
            Ok(value) => {
                let id = value
                    .get("id")
                    .and_then(Value::as_u64)
                    .and_then(|id| u32::try_from(id).ok())
                    .ok_or(RelayError::Unexpected("id"))?;
                let key: [u8; 32] = unb64::<32>(&value, "key")?
                    .try_into()
                    .map_err(|_| RelayError::Unexpected("key"))?;
                Ok(Some((id, key)))
            }
            Err(RelayError::Rejected { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates (idempotently) the queue `queue` on the relay.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn create_queue(&self, queue: &QueueKeys) -> Result<(), RelayError> {
        let body = json!({
            "send_id": b64(queue.send_id().as_bytes()),
            "auth_key": b64(&queue.auth_key()),
        });
        self.call_json(Method::POST, "/v1/queues", Some(body), Signer::Queue(queue))
            .await?;
        Ok(())
    }

    /// Deposits one envelope; returns the relay's id once it is durably stored.
    ///
    /// # Errors
    /// [`RelayError`]; code `unknown_queue` if the recipient has not created the queue.
    pub async fn deposit(&self, envelope: &Envelope) -> Result<u64, RelayError> {
        let (_, bytes) = self
            .call(
                Method::POST,
                "/v1/envelopes",
                envelope.as_bytes().to_vec(),
                false,
                Signer::None,
            )
            .await?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| RelayError::Unexpected("json"))?;
        value
            .get("id")
            .and_then(Value::as_u64)
            .ok_or(RelayError::Unexpected("id"))
    }

    /// Fetches up to `limit` envelopes after `after` from a queue this device owns.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn fetch(
        &self,
        queue: &QueueKeys,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Fetched>, RelayError> {
        let path = format!(
            "/v1/queues/{}/messages?after={after}&limit={limit}",
            hex::encode(queue.receive_id().as_bytes())
        );
        let value = self
            .call_json(Method::GET, &path, None, Signer::Queue(queue))
            .await?;
        let messages = value
            .get("messages")
            .and_then(Value::as_array)
            .ok_or(RelayError::Unexpected("messages"))?;
        messages
            .iter()
            .map(|m| {
                Ok(Fetched {
                    id: m
                        .get("id")
                        .and_then(Value::as_u64)
                        .ok_or(RelayError::Unexpected("id"))?,
                    envelope: unb64::<0>(m, "envelope")?,
                })
            })
            .collect()
    }

    /// Acknowledges (deletes) fetched envelopes.
    ///
    /// # Errors
    /// [`RelayError`].
    pub async fn ack(&self, queue: &QueueKeys, ids: &[u64]) -> Result<(), RelayError> {
        let path = format!(
            "/v1/queues/{}/ack",
            hex::encode(queue.receive_id().as_bytes())
        );
        self.call_json(
            Method::POST,
            &path,
            Some(json!({ "ids": ids })),
            Signer::Queue(queue),
        )
        .await?;
        Ok(())
    }
}
