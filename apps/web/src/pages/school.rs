//! The office's screens: invite a teacher, staff member or parent (the code as text and
//! as a QR code), the invites issued and where each stands, and revoking a member.

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use satchel_client::{Identity, InviteStatus, IssuedInviteStatus};
use satchel_core::school::Role;
use serde::Deserialize;

use super::{Failure, Nav, lang, page, shown, time};
use crate::i18n::{self, Lang, Text};
use crate::qr;
use crate::state::AppState;

fn school_page(
    lang: Lang,
    me: &Identity,
    invites: &[IssuedInviteStatus],
    created: Option<Markup>,
    notice: Option<String>,
) -> Markup {
    page(
        lang,
        lang.t(Text::School),
        Some(me),
        Nav::School,
        html! {
            h1 { (shown(&me.school_name)) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if let Some(created) = created { (created) }
            section aria-labelledby="invite-title" {
                h2 #invite-title { (lang.t(Text::InviteTitle)) }
                p.help { (lang.t(Text::InviteHelp)) }
                form method="post" action="/school/invite" {
                    label for="invite-role" { (lang.t(Text::Role)) }
                    select #invite-role name="role" {
                        @for role in [Role::Parent, Role::Teacher, Role::Staff, Role::Admin] {
                            option value=(role.as_str()) { (i18n::role(lang, role)) }
                        }
                    }
                    label for="invite-name" { (lang.t(Text::Name)) }
                    input #invite-name name="name" required maxlength="100";
                    label for="invite-classes" { (lang.t(Text::ClassesHelp)) }
                    input #invite-classes name="classes";
                    button type="submit" { (lang.t(Text::CreateInvite)) }
                }
            }
            section aria-labelledby="invites-title" {
                h2 #invites-title { (lang.t(Text::Invites)) }
                @if invites.is_empty() {
                    p.empty { (lang.t(Text::NoInvites)) }
                } @else {
                    table.invites {
                        thead { tr {
                            th scope="col" { (lang.t(Text::Name)) }
                            th scope="col" { (lang.t(Text::Role)) }
                            th scope="col" { (lang.t(Text::Classes)) }
                            th scope="col" { (lang.t(Text::Status)) }
                            th scope="col" { "" }
                        } }
                        tbody {
                            @for invite in invites {
                                tr {
                                    td { (shown(&invite.name)) }
                                    td { (i18n::role(lang, invite.role)) }
                                    td { (shown(&invite.classes.join(", "))) }
                                    td { (status(lang, invite.status)) " · " (time(invite.issued_at.saturating_mul(1000))) }
                                    td {
                                        @if invite.status != InviteStatus::Revoked {
                                            form method="post" action="/school/revoke" {
                                                input type="hidden" name="name" value=(invite.grant_id);
                                                button.danger type="submit" aria-label=(format!("{} {}", lang.t(Text::Revoke), invite.name)) { (lang.t(Text::Revoke)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="revoke-title" {
                h2 #revoke-title { (lang.t(Text::RevokeTitle)) }
                p.help { (lang.t(Text::RevokeHelp)) }
                form method="post" action="/school/revoke" {
                    label for="revoke-name" { (lang.t(Text::Name)) }
                    input #revoke-name name="name" required;
                    button.danger type="submit" { (lang.t(Text::Revoke)) }
                }
            }
        },
    )
}

fn status(lang: Lang, status: InviteStatus) -> &'static str {
    lang.t(match status {
        InviteStatus::Pending => Text::Pending,
        InviteStatus::Joined => Text::Used,
        InviteStatus::Expired => Text::Expired,
        InviteStatus::Revoked => Text::Revoked,
        _ => Text::Unknown,
    })
}

/// `/school`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    let invites = client.invites().await.map_err(Failure::client(lang))?;
    Ok(school_page(lang, &me, &invites, None, None).into_response())
}

/// The invite form.
#[derive(Deserialize)]
pub struct InviteForm {
    role: String,
    name: String,
    classes: Option<String>,
}

/// `/school/invite`: makes a code and shows it with its QR code.
pub async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    let role = Role::parse(&form.role).unwrap_or(Role::Parent);
    let classes: Vec<String> = form
        .classes
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let code = client
        .invite(role, form.name.trim(), &classes)
        .await
        .map_err(Failure::client(lang))?;
    let invites = client.invites().await.map_err(Failure::client(lang))?;
    drop(client);
    let created = html! {
        section.created aria-labelledby="code-title" {
            h2 #code-title { (shown(form.name.trim())) " · " (i18n::role(lang, role)) }
            p { (lang.t(Text::InviteCreatedHelp)) }
            p { code #invite-code { (code) } }
            (qr::svg(&code))
        }
    };
    Ok(school_page(lang, &me, &invites, Some(created), None).into_response())
}

/// The revoke form: a name or a grant id prefix.
#[derive(Deserialize)]
pub struct RevokeForm {
    name: String,
}

/// `/school/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    let count = client
        .revoke(form.name.trim())
        .await
        .map_err(Failure::client(lang))?;
    let invites = client.invites().await.map_err(Failure::client(lang))?;
    drop(client);
    state.changed();
    let notice = match lang {
        Lang::En => format!("Revoked ({count})."),
        Lang::Nl => format!("Ingetrokken ({count})."),
    };
    Ok(school_page(lang, &me, &invites, None, Some(notice)).into_response())
}
