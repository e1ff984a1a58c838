//! The school directory by class, with search, and one person's page: the name and
//! role the school certified, verified state, and the safety number to compare.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use satchel_client::Contact;
use serde::Deserialize;

use super::{Failure, Nav, badge, lang, page, shown};
use crate::i18n::{self, Lang, Text};
use crate::state::AppState;

/// The search form.
#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// Whether `contact` matches a search (name or class, case-insensitive).
fn matches(contact: &Contact, query: &str) -> bool {
    let query = query.trim().to_lowercase();
    query.is_empty()
        || contact.name.to_lowercase().contains(&query)
        || contact
            .classes
            .iter()
            .any(|c| c.to_lowercase() == query || c.to_lowercase().contains(&query))
}

/// The people by class (someone in two classes is under both; people without a class
/// under "Everyone").
fn by_class(contacts: &[Contact], lang: Lang) -> BTreeMap<String, Vec<&Contact>> {
    let mut groups: BTreeMap<String, Vec<&Contact>> = BTreeMap::new();
    for contact in contacts {
        if contact.classes.is_empty() {
            groups
                .entry(lang.t(Text::AllClasses).to_string())
                .or_default()
                .push(contact);
        }
        for class in &contact.classes {
            groups.entry(class.clone()).or_default().push(contact);
        }
    }
    for people in groups.values_mut() {
        people.sort_by_key(|c| c.name.to_lowercase());
    }
    groups
}

/// `/people`: the directory (refreshed from the relay).
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let mut client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    let contacts = client.contacts().await.map_err(Failure::client(lang))?;
    drop(client);
    let query = query.q.unwrap_or_default();
    let own = me.account_id;
    let found: Vec<Contact> = contacts
        .into_iter()
        .filter(|c| c.account_id != own && matches(c, &query))
        .collect();
    Ok(page(
        lang,
        lang.t(Text::Contacts),
        Some(&me),
        Nav::People,
        html! {
            h1 { (lang.t(Text::Contacts)) }
            form.search method="get" action="/people" role="search" {
                label for="q" { (lang.t(Text::Search)) }
                input #q type="search" name="q" value=(query) placeholder=(lang.t(Text::SearchPlaceholder));
                button type="submit" { (lang.t(Text::Search)) }
            }
            @if found.is_empty() {
                p.empty { (lang.t(Text::NoContacts)) }
            }
            @for (class, people) in by_class(&found, lang) {
                section.class aria-label=(class) {
                    h2 { (shown(&class)) }
                    ul.people {
                        @for c in people { li { (person_line(lang, c)) } }
                    }
                }
            }
        },
    )
    .into_response())
}

fn person_line(lang: Lang, contact: &Contact) -> Markup {
    let id = contact.account_id.to_hex();
    html! {
        a.person href=(format!("/people/{id}")) {
            span.title { (shown(&contact.name)) }
            span.role { (i18n::role(lang, contact.role)) }
            (badge(lang, contact.verified))
        }
    }
}

/// `/people/{id}`: one person, with the safety number.
pub async fn person(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let lang = lang(&headers);
    let client = state.client().await.ok_or(Failure::start(lang))?;
    let me = client.whoami().map_err(|_| Failure::start(lang))?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::not_found(lang));
    }
    let contact = client.person(&id).map_err(Failure::client(lang))?;
    drop(client);
    let account = contact.account_id.to_hex();
    Ok(page(
        lang,
        &super::display_title(&contact.name),
        Some(&me),
        Nav::People,
        html! {
            h1 { (shown(&contact.name)) " " (badge(lang, contact.verified)) }
            dl.person {
                dt { (lang.t(Text::Role)) } dd { (i18n::role(lang, contact.role)) }
                @if !contact.classes.is_empty() {
                    dt { (lang.t(Text::Classes)) }
                    dd { (shown(&contact.classes.join(", "))) }
                }
                dt { (lang.t(Text::SafetyNumber)) }
                dd.safety-number { code { (contact.safety_number) } }
            }
            p.help { (lang.t(Text::SafetyNumberHelp)) }
            p { a.button href=(format!("/p/{account}")) { (lang.t(Text::WriteTo)) } }
        },
    )
    .into_response())
}
