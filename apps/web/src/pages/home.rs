//! The start page: unlock or welcome until the profile is open and enrolled, then the
//! conversation list — people, class announcements, class groups and threads with a
//! class's teachers, newest first, with unread counts — and the forms that start a
//! group conversation.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use satchel_client::{Conversation, ConversationKind, GroupKind, Identity};
use satchel_core::school::Role;

use super::setup::{unlock_page, welcome_page};
use super::{Failure, Nav, badge, body_text, lang, page, shown, time};
use crate::i18n::{self, Lang, Text};
use crate::state::AppState;

/// `/`: whatever the profile needs next.
pub async fn start(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let Some(client) = state.client().await else {
        return Ok(unlock_page(lang, !state.profile_exists(), None).into_response());
    };
    let Ok(me) = client.whoami() else {
        return Ok(welcome_page(lang, None).into_response());
    };
    let list = client.conversations().map_err(Failure::client(lang))?;
    let waiting = client.waiting_to_send().map_err(Failure::client(lang))?;
    drop(client);
    Ok(page(
        lang,
        lang.t(Text::Conversations),
        Some(&me),
        Nav::Messages,
        html! {
            h1 { (lang.t(Text::Conversations)) }
            @if !me.admitted { p.notice role="status" { (lang.t(Text::AwaitingConfirmation)) } }
            (waiting_banner(lang, waiting, "/"))
            div #conversation-list hx-get="/list" hx-trigger="satchel-changed from:body" {
                (conversation_list(lang, &list))
            }
            (start_forms(lang, &me))
        },
    )
    .into_response())
}

/// `/list`: the list alone, for live updates.
pub async fn list_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let client = state.client().await.ok_or(Failure::start(lang))?;
    let list = client.conversations().map_err(Failure::client(lang))?;
    Ok(conversation_list(lang, &list).into_response())
}

/// "Messages are waiting to be sent" with a retry button, when the outbox is not empty.
#[must_use]
pub fn waiting_banner(lang: Lang, waiting: usize, back: &str) -> Markup {
    html! {
        @if waiting > 0 {
            form.notice.waiting role="status" method="post" action="/retry" {
                (lang.t(Text::WaitingToSend)) " "
                input type="hidden" name="back" value=(back);
                button type="submit" { (lang.t(Text::RetryNow)) }
            }
        }
    }
}

/// The link of a conversation.
#[must_use]
pub fn href(conversation: &Conversation) -> String {
    match conversation.kind {
        ConversationKind::Person => format!("/p/{}", conversation.id),
        ConversationKind::Group(_) => format!("/g/{}", conversation.id),
    }
}

fn kind_label(lang: Lang, conversation: &Conversation) -> String {
    match conversation.kind {
        ConversationKind::Person => conversation
            .role
            .map_or_else(String::new, |r| i18n::role(lang, r).to_string()),
        ConversationKind::Group(GroupKind::Announcement) => lang.t(Text::Announcements).into(),
        ConversationKind::Group(GroupKind::ClassGroup) => lang.t(Text::ClassGroups).into(),
        ConversationKind::Group(GroupKind::TeamThread) => {
            i18n::teachers_of(lang, &conversation.class_name)
        }
    }
}

fn conversation_list(lang: Lang, list: &[Conversation]) -> Markup {
    html! {
        @if list.is_empty() {
            p.empty { (lang.t(Text::NoConversations)) }
        } @else {
            ul.conversations {
                @for c in list {
                    li {
                        a.conversation href=(href(c)) {
                            span.title { (shown(&c.title)) }
                            span.kind { (kind_label(lang, c)) }
                            @if c.kind == ConversationKind::Person { (badge(lang, c.verified)) }
                            @if c.unread > 0 {
                                span.unread aria-label=(i18n::unread(lang, c.unread)) { (c.unread) }
                            }
                            @if let Some(last) = &c.last {
                                span.last {
                                    @if last.outgoing { (lang.t(Text::You)) ": " }
                                    (body_text(&first_line(&last.text)))
                                }
                                span.when { (time(last.sent_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The first line of a message, cut at 80 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut cut: String = line.chars().take(80).collect();
    if cut.chars().count() < line.chars().count() {
        cut.push('…');
    }
    cut
}

/// What this person may start: staff announce and create class groups for their
/// classes; everyone writes to the teachers of a class.
fn start_forms(lang: Lang, me: &Identity) -> Markup {
    let staff = me.role != Role::Parent;
    let office = me.admin || me.office;
    html! {
        section.start aria-labelledby="team-title" {
            h2 #team-title { (lang.t(Text::WriteToTeachers)) }
            p.help { (lang.t(Text::WriteToTeachersHelp)) }
            form method="post" action="/team" {
                label for="team-class" { (lang.t(Text::Class)) }
                (class_field("team-class", &me.classes, false, lang))
                label for="team-text" { (lang.t(Text::WriteMessage)) }
                textarea #team-text name="text" rows="3" required {}
                button type="submit" { (lang.t(Text::Send)) }
            }
        }
        @if staff {
            section.start aria-labelledby="announce-title" {
                h2 #announce-title { (lang.t(Text::NewAnnouncement)) }
                p.help { (lang.t(Text::AnnounceHelp)) }
                form method="post" action="/announce" {
                    label for="announce-class" { (lang.t(Text::Class)) }
                    (class_field("announce-class", &me.classes, office, lang))
                    label for="announce-text" { (lang.t(Text::WriteMessage)) }
                    textarea #announce-text name="text" rows="3" required {}
                    button type="submit" { (lang.t(Text::Post)) }
                }
            }
            section.start aria-labelledby="group-title" {
                h2 #group-title { (lang.t(Text::NewClassGroup)) }
                form method="post" action="/groups/create" {
                    label for="group-class" { (lang.t(Text::Class)) }
                    (class_field("group-class", &me.classes, false, lang))
                    label.check {
                        input type="checkbox" name="parents_may_post" value="on";
                        " " (lang.t(Text::ParentsMayPost))
                    }
                    button type="submit" { (lang.t(Text::CreateGroup)) }
                }
            }
        }
    }
}

/// A class picker from this person's classes (free text when they have none, e.g. the
/// office); `whole_school` adds "the whole school".
fn class_field(id: &str, classes: &[String], whole_school: bool, lang: Lang) -> Markup {
    html! {
        @if classes.is_empty() && !whole_school {
            input id=(id) name="class" required;
        } @else {
            select id=(id) name="class" {
                @for class in classes { option value=(class) { (super::display_title(class)) } }
                @if whole_school { option value="" { (lang.t(Text::WholeSchool)) } }
            }
        }
    }
}
