//! What keeps a server on 127.0.0.1 safe from every other web page the person visits:
//! any page can make the browser send requests to a local port.
//!
//! * **Host** must be `127.0.0.1:PORT` or `localhost:PORT` on every request, so a
//!   hostile domain that re-points its DNS at 127.0.0.1 (DNS rebinding) is refused.
//! * **The launch token**: 32 random bytes printed in the URL once (`/?token=…`); the
//!   first visit turns it into an `HttpOnly`, `SameSite=Strict` cookie and redirects to
//!   a URL without it. Every other request must carry the cookie (compared in constant
//!   time): another local program or page that does not know the token gets 401.
//! * **Origin** must be this server's own on every request that changes something
//!   (anything but GET and HEAD); a missing Origin is refused too.
//! * **Headers on every answer**: a Content-Security-Policy that allows scripts,
//!   styles, images and connections from this origin only and no inline script or
//!   style, no framing, no referrer to other sites, no caching, no MIME sniffing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::state::AppState;

/// The cookie that carries the launch token, per port: browsers share cookies across
/// the ports of one host, and a teacher may run two apps (two profiles) side by side.
#[must_use]
pub fn token_cookie(port: u16) -> String {
    format!("satchel_token_{port}")
}

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A per-launch secret (64 hex digits).
pub struct LaunchToken(Zeroizing<String>);

impl std::fmt::Debug for LaunchToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LaunchToken(..)")
    }
}

impl LaunchToken {
    /// A fresh random token.
    ///
    /// # Errors
    /// The operating system's random source failed.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice())?;
        Ok(Self(Zeroizing::new(hex::encode(bytes.as_slice()))))
    }

    /// The token's text (for the printed URL).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, in constant time.
    #[must_use]
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

/// The value of cookie `name`, if the request carries it.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Why a request was refused (each becomes a plain-text answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Host,
    Origin,
    Token,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::Host => (
                StatusCode::MISDIRECTED_REQUEST,
                "This Satchel app answers only at 127.0.0.1 or localhost.",
            ),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "Refused: this request did not come from the Satchel app's own page.",
            ),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "Open Satchel with the address it printed when it started (it contains a secret).",
            ),
        };
        (status, text).into_response()
    }
}

/// The checks above, then the answer's security headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = match check(&state, &request) {
        Ok(Some(redirect)) => redirect,
        Ok(None) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: with it Chromium sends `Origin: null` on form posts.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `Ok(Some(_))` answers at once (the token-to-cookie redirect), `Ok(None)` lets the
/// request through.
fn check(state: &AppState, request: &Request) -> Result<Option<Response>, Refusal> {
    let headers = request.headers();
    let port = state.port();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Host)?;
    if host != format!("127.0.0.1:{port}") && host != format!("localhost:{port}") {
        return Err(Refusal::Host);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Origin)?;
        if origin != format!("http://{host}") {
            return Err(Refusal::Origin);
        }
    }
    let name = token_cookie(port);
    if let Some(candidate) = cookie(headers, &name)
        && state.token().matches(candidate)
    {
        return Ok(None);
    }
    // The first visit: the token in the URL becomes the cookie.
    let from_url = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    if request.method() == Method::GET
        && request.uri().path() == "/"
        && let Some(candidate) = from_url
        && state.token().matches(candidate)
    {
        let cookie = format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Strict",
            state.token().as_str()
        );
        let mut response = Redirect::to("/").into_response();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return Ok(Some(response));
    }
    Err(Refusal::Token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xsatchel_token_80=1; satchel_token_80=abc"),
        );
        assert_eq!(cookie(&headers, &token_cookie(80)), Some("abc"));
        assert_eq!(cookie(&headers, "other"), None);
    }

    #[test]
    fn a_token_matches_only_itself() -> Result<(), getrandom::Error> {
        let token = LaunchToken::generate()?;
        assert!(token.matches(token.as_str()));
        assert!(!token.matches(""));
        assert!(!token.matches(token.as_str().get(..63).unwrap_or("")));
        assert_eq!(format!("{token:?}"), "LaunchToken(..)");
        Ok(())
    }
}
