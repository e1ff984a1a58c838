//! First run and every launch: unlock the profile (or choose its passphrase), then join
//! a school with an invite code — shown and confirmed before it is used — or create a
//! school.

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use satchel_client::store::keyfile::KeySource;
use satchel_client::{ClientError, InvitePreview};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Failure, Nav, lang, page, shown};
use crate::i18n::{Lang, Text, role};
use crate::state::AppState;

/// The unlock form (or, on a first run, the choose-a-passphrase form).
#[must_use]
pub fn unlock_page(lang: Lang, first_run: bool, error: Option<&str>) -> Markup {
    let title = if first_run {
        lang.t(Text::ChoosePassphrase)
    } else {
        lang.t(Text::UnlockTitle)
    };
    page(
        lang,
        title,
        None,
        Nav::None,
        html! {
            h1 { (title) }
            @if first_run { p { (lang.t(Text::ChoosePassphraseHelp)) } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/unlock" {
                label for="passphrase" { (lang.t(Text::Passphrase)) }
                input #passphrase type="password" name="passphrase" required autocomplete=(if first_run { "new-password" } else { "current-password" }) autofocus;
                @if first_run {
                    label for="again" { (lang.t(Text::PassphraseAgain)) }
                    input #again type="password" name="again" required autocomplete="new-password";
                }
                button type="submit" { (lang.t(Text::Unlock)) }
            }
        },
    )
}

/// The first screen of an unenrolled profile: join, or create a school.
#[must_use]
pub fn welcome_page(lang: Lang, error: Option<&str>) -> Markup {
    page(
        lang,
        lang.t(Text::Welcome),
        None,
        Nav::None,
        html! {
            h1 { (lang.t(Text::Welcome)) }
            p { (lang.t(Text::WelcomeHelp)) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            section aria-labelledby="join-title" {
                h2 #join-title { (lang.t(Text::JoinTitle)) }
                form method="post" action="/join/preview" {
                    label for="code" { (lang.t(Text::InviteCode)) }
                    textarea #code name="code" rows="3" required aria-describedby="code-help" {}
                    p #code-help .help { (lang.t(Text::InviteCodeHelp)) }
                    button type="submit" { (lang.t(Text::Continue)) }
                }
            }
            section aria-labelledby="create-title" {
                h2 #create-title { (lang.t(Text::CreateSchoolTitle)) }
                p { (lang.t(Text::CreateSchoolHelp)) }
                form method="post" action="/school/create" {
                    label for="school-name" { (lang.t(Text::SchoolName)) }
                    input #school-name name="name" required;
                    label for="relay" { (lang.t(Text::RelayUrl)) }
                    input #relay name="relay" type="url" required placeholder="https://relay.school.example";
                    label for="registration-token" { (lang.t(Text::RegistrationToken)) }
                    input #registration-token name="token" type="password" autocomplete="off";
                    button type="submit" { (lang.t(Text::CreateSchool)) }
                }
            }
        },
    )
}

fn confirm_page(lang: Lang, code: &str, preview: &InvitePreview) -> Markup {
    page(
        lang,
        lang.t(Text::JoinConfirmTitle),
        None,
        Nav::None,
        html! {
            h1 { (lang.t(Text::JoinConfirmTitle)) }
            p { (lang.t(Text::JoinConfirmHelp)) }
            dl.preview {
                dt { (lang.t(Text::School)) } dd #preview-school { (shown(&preview.school_name)) }
                dt { (lang.t(Text::Name)) } dd #preview-name { (shown(&preview.name)) }
                dt { (lang.t(Text::Role)) } dd #preview-role { (role(lang, preview.role)) }
                @if !preview.classes.is_empty() {
                    dt { (lang.t(Text::Classes)) }
                    dd { (shown(&preview.classes.join(", "))) }
                }
                dt { (lang.t(Text::RelayUrl)) } dd { (shown(&preview.relay_url)) }
            }
            form method="post" action="/join" {
                input type="hidden" name="code" value=(code);
                button #join-confirm type="submit" { (lang.t(Text::JoinConfirm)) }
                " "
                a href="/" { (lang.t(Text::Cancel)) }
            }
        },
    )
}

/// The unlock form's fields.
#[derive(Deserialize)]
pub struct UnlockForm {
    passphrase: String,
    again: Option<String>,
}

/// Opens the profile.
pub async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<UnlockForm>,
) -> Response {
    let lang = lang(&headers);
    let first_run = !state.profile_exists();
    let passphrase = Zeroizing::new(form.passphrase);
    let again = form.again.map(Zeroizing::new);
    if passphrase.is_empty() {
        return unlock_page(lang, first_run, Some(lang.t(Text::ChoosePassphraseHelp)))
            .into_response();
    }
    if first_run && again.as_deref().map(String::as_str) != Some(passphrase.as_str()) {
        let message = match lang {
            Lang::En => "The two passphrases differ: type the same one twice.",
            Lang::Nl => "De twee wachtwoordzinnen verschillen: typ twee keer dezelfde.",
        };
        return unlock_page(lang, true, Some(message)).into_response();
    }
    match state
        .unlock(KeySource::Passphrase(Zeroizing::new(
            passphrase.to_string(),
        )))
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(_) => unlock_page(lang, first_run, Some(lang.t(Text::StoreLocked))).into_response(),
    }
}

/// The invite code field.
#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// Shows who an invite code enrols as, and asks.
pub async fn join_preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    match client.preview_invite(&form.code).await {
        Ok(preview) => Ok(confirm_page(lang, form.code.trim(), &preview).into_response()),
        Err(error) => Ok(welcome_page(lang, Some(&error.to_string())).into_response()),
    }
}

/// Joins with a confirmed code.
pub async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let joined = client.join(&form.code).await;
    drop(client);
    Ok(after_enrolment(&state, lang, joined.map(drop), "/"))
}

/// After a join or a school's creation: on to `next`, or back to the welcome page with
/// what went wrong (nothing was enrolled then).
fn after_enrolment(
    state: &AppState,
    lang: Lang,
    outcome: Result<(), ClientError>,
    next: &str,
) -> Response {
    match outcome {
        Ok(()) => {
            state.changed();
            Redirect::to(next).into_response()
        }
        Err(error) => welcome_page(lang, Some(&error.to_string())).into_response(),
    }
}

/// The create-a-school form's fields.
#[derive(Deserialize)]
pub struct CreateSchoolForm {
    name: String,
    relay: String,
    token: Option<String>,
}

/// Creates a school with this device as its office.
pub async fn create_school(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CreateSchoolForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let token = form.token.map(Zeroizing::new);
    let token = token
        .as_deref()
        .map(String::as_str)
        .filter(|t| !t.is_empty());
    let created = client
        .create_school(form.name.trim(), form.relay.trim(), token)
        .await;
    drop(client);
    Ok(after_enrolment(&state, lang, created.map(drop), "/school"))
}
