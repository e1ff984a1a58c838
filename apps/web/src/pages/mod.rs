//! The screens, one module each, with their handlers; this file holds the page frame,
//! the error page and the helpers every screen uses.
//!
//! Everything another person controls (names, titles, message text, a school's name)
//! goes through [`satchel_client::display`] — control and bidirectional characters made
//! visible — and maud's HTML escaping, inside `<bdi>` so it cannot reorder the text
//! around it. Verified state is drawn by the page frame, never inside the text.

pub mod conversation;
pub mod home;
pub mod people;
pub mod school;
pub mod settings;
pub mod setup;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use satchel_client::display;
use satchel_client::{ClientError, Identity};

use crate::i18n::{Lang, Text};

/// Which menu entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The conversation list and conversations.
    Messages,
    /// The directory.
    People,
    /// The office's screens.
    School,
    /// Settings.
    Settings,
    /// No menu (before joining).
    None,
}

/// A whole page: header with the menu, the content, the language switch.
#[must_use]
pub fn page(lang: Lang, title: &str, me: Option<&Identity>, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                title { (title) " · " (lang.t(Text::AppName)) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/htmx.min.js" defer {}
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { (lang.t(Text::SkipToContent)) }
                header {
                    span.brand { (lang.t(Text::AppName)) }
                    @if let Some(me) = me {
                        span.me {
                            bdi { (display::name(&me.name)) }
                            " · " (crate::i18n::role(lang, me.role))
                            @if !me.school_name.is_empty() {
                                " · " bdi { (display::name(&me.school_name)) }
                            }
                        }
                    }
                    @if nav != Nav::None {
                        nav aria-label=(lang.t(Text::Menu)) {
                            (menu_link("/", lang.t(Text::Conversations), nav == Nav::Messages))
                            (menu_link("/people", lang.t(Text::Contacts), nav == Nav::People))
                            @if me.is_some_and(|me| me.admin || me.office) {
                                (menu_link("/school", lang.t(Text::School), nav == Nav::School))
                            }
                            (menu_link("/settings", lang.t(Text::Settings), nav == Nav::Settings))
                        }
                    }
                }
                main #main { (body) }
                footer {
                    form method="post" action="/settings/lang" {
                        label for="lang-switch" { (lang.t(Text::Language)) }
                        select #lang-switch name="lang" {
                            option value="en" selected[lang == Lang::En] { "English" }
                            option value="nl" selected[lang == Lang::Nl] { "Nederlands" }
                        }
                        button type="submit" { (lang.t(Text::Save)) }
                    }
                }
            }
        }
    }
}

fn menu_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        @if current {
            a href=(href) aria-current="page" { (label) }
        } @else {
            a href=(href) { (label) }
        }
    }
}

/// A name or title another person controls, made safe to show.
#[must_use]
pub fn shown(text: &str) -> Markup {
    html! { bdi { (display::name(text)) } }
}

/// A name or title another person controls, for the page's `<title>`.
#[must_use]
pub fn display_title(text: &str) -> String {
    display::name(text)
}

/// A message body another person controls: one escaped line per line.
#[must_use]
pub fn body_text(text: &str) -> Markup {
    html! {
        @for (i, line) in display::text_lines(text).iter().enumerate() {
            @if i > 0 { br; }
            bdi { (line) }
        }
    }
}

/// The verified badge, or the warning text cannot imitate (it is drawn outside the
/// message, in the page's own colours, with an icon and a role the text cannot set).
#[must_use]
pub fn badge(lang: Lang, verified: bool) -> Markup {
    html! {
        @if verified {
            span.badge.verified data-verified="true" title=(lang.t(Text::Verified)) {
                "✔ " (lang.t(Text::Verified))
            }
        } @else {
            span.badge.unverified data-verified="false" role="alert" {
                "⚠ " (lang.t(Text::NotVerified))
            }
        }
    }
}

/// A time from Unix milliseconds, as `YYYY-MM-DD HH:MM` (UTC; the browser's time zone
/// is not known to the server).
#[must_use]
pub fn time(millis: u64) -> String {
    let secs = millis / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60
    )
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// Why a request could not be served, with the language to say it in.
#[derive(Debug)]
pub struct Failure {
    lang: Lang,
    kind: FailureKind,
}

#[derive(Debug)]
enum FailureKind {
    /// The profile is locked or not enrolled: back to the start page.
    Start,
    /// Nothing by that id.
    NotFound,
    /// The library refused; its message says what to do.
    Client(ClientError),
}

impl Failure {
    /// The profile is locked or not enrolled.
    #[must_use]
    pub fn start(lang: Lang) -> Self {
        Self {
            lang,
            kind: FailureKind::Start,
        }
    }

    /// Nothing by that id.
    #[must_use]
    pub fn not_found(lang: Lang) -> Self {
        Self {
            lang,
            kind: FailureKind::NotFound,
        }
    }

    /// A library error, to be shown.
    pub fn client(lang: Lang) -> impl FnOnce(ClientError) -> Self {
        move |error| Self {
            lang,
            kind: FailureKind::Client(error),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let (status, message) = match self.kind {
            FailureKind::Start => return Redirect::to("/").into_response(),
            FailureKind::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_string()),
            FailureKind::Client(error) => (status_of(&error), error.to_string()),
        };
        let body = html! {
            h1 { (lang.t(Text::ErrorTitle)) }
            p.error role="alert" { (message) }
            p { a href="/" { (lang.t(Text::Back)) } }
        };
        (
            status,
            page(lang, lang.t(Text::ErrorTitle), None, Nav::None, body),
        )
            .into_response()
    }
}

fn status_of(error: &ClientError) -> StatusCode {
    match error {
        ClientError::UnknownContact { .. } | ClientError::UnknownGroup { .. } => {
            StatusCode::NOT_FOUND
        }
        ClientError::Relay(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The language of a request (shorthand for handlers).
#[must_use]
pub fn lang(headers: &HeaderMap) -> Lang {
    Lang::of(headers)
}

/// Whether the request came from htmx (which wants a fragment, not a page).
#[must_use]
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_calendar_dates() {
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(time(1_796_083_260_000), "2026-12-01 00:01");
    }

    #[test]
    fn text_is_escaped_and_cannot_reorder_the_page() {
        let markup = body_text("<script>alert(1)</script>\n\u{202e}evil").into_string();
        assert!(!markup.contains("<script>"), "{markup}");
        assert!(markup.contains("&lt;script&gt;"), "{markup}");
        assert!(!markup.contains('\u{202e}'), "{markup}");
    }
}
