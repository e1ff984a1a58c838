//! A conversation with one person or in one group: its messages (refreshed live), the
//! compose form, and starting group conversations (an announcement, a class group, a
//! message to the teachers of a class).

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use satchel_client::{Client, ClientError, GroupInfo, GroupKind, Message};
use serde::Deserialize;

use super::home::waiting_banner;
use super::{Failure, Nav, badge, body_text, is_htmx, lang, page, shown, time};
use crate::i18n::{self, Lang, Text};
use crate::state::AppState;

/// Whose conversation a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// A person (by account id).
    Person,
    /// A group (by group id).
    Group,
}

impl Thread {
    fn prefix(self) -> &'static str {
        match self {
            Thread::Person => "p",
            Thread::Group => "g",
        }
    }
}

/// Refuses ids that are not hex: they name conversations in URLs.
fn checked(id: &str, lang: Lang) -> Result<&str, Failure> {
    if id.len() >= 6 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(Failure::not_found(lang))
    }
}

fn messages_of(client: &Client, thread: Thread, id: &str) -> Result<Vec<Message>, ClientError> {
    match thread {
        Thread::Person => client.history(id),
        Thread::Group => client.group_history(id),
    }
}

/// The message list (the part live updates replace).
#[must_use]
pub fn message_list(lang: Lang, messages: &[Message], waiting_since: Option<u64>) -> Markup {
    html! {
        @if messages.is_empty() {
            p.empty { "…" }
        }
        ol.messages {
            @for m in messages {
                li.message.outgoing[m.outgoing].incoming[!m.outgoing].unverified[!m.verified] {
                    div.meta {
                        @if m.outgoing {
                            span.from { (lang.t(Text::You)) }
                        } @else {
                            span.from { (shown(&m.from)) }
                            @if let Some(role) = m.role { span.role { (i18n::role(lang, role)) } }
                            (badge(lang, m.verified))
                        }
                        time { (time(m.sent_at)) }
                    }
                    @if !m.verified && !m.outgoing {
                        p.warning { (lang.t(Text::NotVerifiedWarning)) }
                    }
                    p.text { (body_text(&m.text)) }
                    @if m.outgoing && waiting_since.is_some_and(|since| m.sent_at >= since) {
                        span.state.waiting { "⏳ " (lang.t(Text::NotSentYet)) }
                    } @else if m.outgoing {
                        span.state { "✓ " (lang.t(Text::SentToRelay)) }
                    }
                    @if let (Some(n), Some(of)) = (m.read_by, m.read_of) {
                        span.reads { (i18n::read_by(lang, n, of)) }
                    }
                }
            }
        }
    }
}

/// Renders the whole conversation page of a person from the store (also what the
/// benchmark measures).
///
/// # Errors
/// As [`Client::history`].
pub fn person_page(client: &Client, lang: Lang, id: &str) -> Result<Markup, ClientError> {
    let me = client.whoami()?;
    let messages = client.history(id)?;
    let contact = client.person(id)?;
    let title = contact.name.clone();
    let waiting = client.waiting_to_send()?;
    let since = client.waiting_since()?;
    let path = format!("/p/{id}");
    Ok(page(
        lang,
        &super::display_title(&title),
        Some(&me),
        Nav::Messages,
        html! {
            h1 {
                (shown(&title))
                " " span.role { (i18n::role(lang, contact.role)) }
                " " (badge(lang, contact.verified))
            }
            p { a href=(format!("/people/{id}")) { (lang.t(Text::SafetyNumber)) } }
            (waiting_banner(lang, waiting, &path))
            (live_messages(lang, &path, &messages, since))
            (compose(lang, &path, true))
        },
    ))
}

fn group_page(client: &Client, lang: Lang, id: &str) -> Result<Markup, ClientError> {
    let me = client.whoami()?;
    let info = client.group(id)?;
    let messages = client.group_history(id)?;
    let members = client.group_members(id)?;
    let waiting = client.waiting_to_send()?;
    let since = client.waiting_since()?;
    let path = format!("/g/{}", info.id);
    Ok(page(
        lang,
        &super::display_title(&info.title),
        Some(&me),
        Nav::Messages,
        html! {
            h1 { (shown(&info.title)) " " span.kind { (group_kind(lang, &info)) } }
            @if !info.active { p.notice role="status" { (lang.t(Text::RemovedFromGroup)) } }
            details.members {
                summary { (lang.t(Text::Members)) " (" (i18n::people(lang, info.people)) ")" }
                ul { @for name in &members { li { (shown(name)) } } }
            }
            (waiting_banner(lang, waiting, &path))
            (live_messages(lang, &path, &messages, since))
            @if info.may_post {
                (compose(lang, &path, true))
            } @else if info.active {
                p.help { (lang.t(Text::OnlyStaffPost)) }
            }
            @if info.kind == GroupKind::Announcement && !info.created_by_me && !info.class_name.is_empty() {
                // Replies go to the class's teachers, never to the other parents.
                form.reply method="post" action="/team" {
                    input type="hidden" name="class" value=(info.class_name);
                    label for="reply-text" { (i18n::reply_to_teachers(lang, &info.class_name)) }
                    textarea #reply-text name="text" rows="2" required {}
                    button type="submit" { (lang.t(Text::Send)) }
                }
            }
        },
    ))
}

fn group_kind(lang: Lang, info: &GroupInfo) -> String {
    match info.kind {
        GroupKind::Announcement if info.class_name.is_empty() => {
            lang.t(Text::WholeSchool).to_string()
        }
        GroupKind::Announcement => i18n::parents_of(lang, &info.class_name),
        GroupKind::ClassGroup => lang.t(Text::ClassGroups).to_string(),
        GroupKind::TeamThread => i18n::teachers_of(lang, &info.class_name),
    }
}

fn live_messages(lang: Lang, path: &str, messages: &[Message], since: Option<u64>) -> Markup {
    html! {
        div #messages role="log" aria-live="polite" hx-get=(format!("{path}/messages")) hx-trigger="satchel-changed from:body" {
            (message_list(lang, messages, since))
        }
    }
}

fn compose(lang: Lang, path: &str, enabled: bool) -> Markup {
    html! {
        form.compose method="post" action=(format!("{path}/send")) hx-post=(format!("{path}/send")) hx-target="#messages" {
            label for="text" { (lang.t(Text::WriteMessage)) }
            textarea #text name="text" rows="3" required disabled[!enabled] {}
            button #send type="submit" disabled[!enabled] { (lang.t(Text::Send)) }
            p.error.compose-error role="alert" hidden {}
        }
    }
}

/// `/p/{id}` and `/g/{id}`: the page (marks the conversation seen; for an announcement,
/// confirms reading to its author unless switched off).
pub async fn show(
    thread: Thread,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let id = checked(&id, lang)?.to_string();
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let markup = match thread {
        Thread::Person => person_page(&client, lang, &id),
        Thread::Group => group_page(&client, lang, &id),
    }
    .map_err(Failure::client(lang))?;
    mark_seen(&mut client, thread, &id).await;
    Ok(markup.into_response())
}

async fn mark_seen(client: &mut Client, thread: Thread, id: &str) {
    if let Thread::Group = thread {
        // The id a group is listed by is its full id.
        let Ok(full) = client.group(id).map(|g| g.id) else {
            return;
        };
        if let Err(error) = client.mark_group_read(&full).await {
            tracing::debug!(%error, "read confirmation not sent now; the next visit retries");
        }
        let _ = client.mark_seen(&full);
    } else if let Err(error) = client.mark_seen(id) {
        tracing::debug!(%error, "could not mark the conversation seen");
    }
}

/// `/p/{id}/messages` and `/g/{id}/messages`: the list alone, for live updates.
pub async fn messages(
    thread: Thread,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let id = checked(&id, lang)?.to_string();
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let messages = messages_of(&client, thread, &id).map_err(Failure::client(lang))?;
    let since = client.waiting_since().map_err(Failure::client(lang))?;
    mark_seen(&mut client, thread, &id).await;
    Ok(message_list(lang, &messages, since).into_response())
}

/// The compose form.
#[derive(Deserialize)]
pub struct TextForm {
    text: String,
}

/// `/p/{id}/send` and `/g/{id}/send`.
pub async fn send(
    thread: Thread,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let id = checked(&id, lang)?.to_string();
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let sent = match thread {
        Thread::Person => client.send(&id, &form.text).await,
        Thread::Group => client.send_to_group(&id, &form.text).await,
    };
    sent.map_err(Failure::client(lang))?;
    let messages = messages_of(&client, thread, &id).map_err(Failure::client(lang))?;
    let since = client.waiting_since().map_err(Failure::client(lang))?;
    drop(client);
    state.changed();
    if is_htmx(&headers) {
        Ok(message_list(lang, &messages, since).into_response())
    } else {
        Ok(Redirect::to(&format!("/{}/{id}", thread.prefix())).into_response())
    }
}

/// A class and a text.
#[derive(Deserialize)]
pub struct ClassTextForm {
    class: String,
    text: String,
}

/// The group this device just posted in: its own group of `kind` for `class`.
fn own_group(client: &Client, kind: GroupKind, class: &str) -> Option<String> {
    client
        .groups()
        .ok()?
        .into_iter()
        .find(|g| {
            g.kind == kind && g.created_by_me && g.class_name.eq_ignore_ascii_case(class.trim())
        })
        .map(|g| format!("/g/{}", g.id))
}

/// `/team` (a [`GroupKind::TeamThread`]: writes to the teachers of a class, their
/// thread created on first use) and `/announce` (a [`GroupKind::Announcement`]: posts to
/// every parent of a class, or the whole school from the office). Then to the group.
pub async fn post_to_class(
    kind: GroupKind,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ClassTextForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let posted = if kind == GroupKind::Announcement {
        client.announce(&form.class, &form.text).await
    } else {
        client.send_to_class_team(&form.class, &form.text).await
    };
    posted.map_err(Failure::client(lang))?;
    let to = own_group(&client, kind, &form.class);
    drop(client);
    state.changed();
    Ok(Redirect::to(to.as_deref().unwrap_or("/")).into_response())
}

/// The new-class-group form.
#[derive(Deserialize)]
pub struct NewGroupForm {
    class: String,
    parents_may_post: Option<String>,
}

/// `/groups/create`: a class group of the class's teachers and parents.
pub async fn create_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewGroupForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let info = client
        .create_group(
            GroupKind::ClassGroup,
            &form.class,
            None,
            form.parents_may_post.is_some(),
        )
        .await
        .map_err(Failure::client(lang))?;
    drop(client);
    state.changed();
    Ok(Redirect::to(&format!("/g/{}", info.id)).into_response())
}

/// Where to go back to after a retry.
#[derive(Deserialize)]
pub struct BackForm {
    back: Option<String>,
}

/// `/retry`: a sync now (sends what waits in the outbox).
pub async fn retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<BackForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    client.sync().await.map_err(Failure::client(lang))?;
    drop(client);
    state.changed();
    // Only a path on this server: never an open redirect.
    let back = form
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".to_string());
    Ok(Redirect::to(&back).into_response())
}
