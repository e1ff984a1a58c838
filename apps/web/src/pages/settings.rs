//! Settings: who this device is (with its fingerprint), read confirmations on or off,
//! and the language switch every page's footer posts to.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::{Failure, Nav, lang, page, shown};
use crate::i18n::{self, LANG_COOKIE, Lang, Text};
use crate::state::AppState;

/// `/settings`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    let receipts = client.read_receipts().map_err(Failure::client(lang))?;
    drop(client);
    Ok(page(
        lang,
        lang.t(Text::Settings),
        Some(&me),
        Nav::Settings,
        html! {
            h1 { (lang.t(Text::Settings)) }
            dl.person {
                dt { (lang.t(Text::Name)) } dd { (shown(&me.name)) }
                dt { (lang.t(Text::Role)) } dd { (i18n::role(lang, me.role)) }
                dt { (lang.t(Text::School)) } dd { (shown(&me.school_name)) }
                dt { (lang.t(Text::SafetyNumber)) } dd.safety-number { code { (me.fingerprint) } }
            }
            form method="post" action="/settings/read-receipts" {
                fieldset {
                    legend { (lang.t(Text::ReadReceipts)) }
                    p.help { (lang.t(Text::ReadReceiptsHelp)) }
                    label.check { input type="radio" name="on" value="true" checked[receipts]; " " (lang.t(Text::On)) }
                    label.check { input type="radio" name="on" value="false" checked[!receipts]; " " (lang.t(Text::Off)) }
                }
                button type="submit" { (lang.t(Text::Save)) }
            }
        },
    )
    .into_response())
}

/// The read-confirmations form.
#[derive(Deserialize)]
pub struct ReceiptsForm {
    on: String,
}

/// `/settings/read-receipts`.
pub async fn read_receipts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ReceiptsForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    client
        .set_read_receipts(form.on == "true")
        .map_err(Failure::client(lang))?;
    Ok(Redirect::to("/settings").into_response())
}

/// The language switch.
#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
}

/// `/settings/lang`: remembers the language in a cookie, back to the start page.
pub async fn language(Form(form): Form<LangForm>) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or(Lang::En);
    let mut response = Redirect::to("/").into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
        lang.code()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
