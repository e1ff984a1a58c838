//! What the CLI prints: text for people (every name and message text escaped through
//! [`satchel_client::display`]), or one JSON object per line with `--json`.

use satchel_client::relay::RelayError;
use satchel_client::{
    ClientError, Contact, GroupInfo, GroupKind, Identity, InviteStatus, IssuedInviteStatus,
    Message, SendReport, SyncReport,
};
use satchel_core::school::Role;
use serde_json::json;

use satchel_client::display;

/// Prints results in the chosen format.
pub struct Output {
    json: bool,
}

fn time(millis: u64) -> String {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_seconds(when).to_string()
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// A stable code for a client error, for `--json` output.
pub fn error_code(error: &ClientError) -> &'static str {
    match error {
        ClientError::NotEnrolled => "not_enrolled",
        ClientError::AlreadyEnrolled { .. } => "already_enrolled",
        ClientError::NotAdmin => "not_admin",
        ClientError::Folder { .. } => "folder",
        ClientError::Permissions(_) => "permissions",
        ClientError::Key(_) => "key",
        ClientError::Store(_) => "store",
        ClientError::Relay(RelayError::Rejected { .. }) => "relay_refused",
        ClientError::Relay(_) => "network",
        ClientError::Invite(_) => "invalid_invite",
        ClientError::InviteUnknown => "unknown_invite",
        ClientError::InviteUsed => "invite_used",
        ClientError::Trust(_) => "trust",
        ClientError::UnknownContact { .. } => "unknown_contact",
        ClientError::AmbiguousContact { .. } => "ambiguous_contact",
        ClientError::EmptyMessage => "empty_message",
        ClientError::EmptyName => "empty_name",
        ClientError::MembershipEnded { .. } => "membership_ended",
        ClientError::NotYetAdmitted => "not_yet_admitted",
        ClientError::RecipientNotVerified { .. } => "recipient_not_verified",
        ClientError::Handshake(_) => "handshake",
        ClientError::Encrypt(_) => "encrypt",
        ClientError::Directory(_) => "directory",
        ClientError::Profile(_) => "profile",
        ClientError::UnknownGroup { .. } => "unknown_group",
        ClientError::AmbiguousGroup { .. } => "ambiguous_group",
        ClientError::NotAllowedInGroup { .. } => "not_allowed_in_group",
        ClientError::GroupTooLarge { .. } => "group_too_large",
        ClientError::EmptyGroup { .. } => "empty_group",
        _ => "error",
    }
}

/// Prints an error: on standard error as text, or as one JSON object on standard
/// output.
pub fn error(json: bool, code: &str, message: &str) {
    if json {
        print_json(&json!({ "error": code, "message": message }));
    } else {
        eprintln!("error: {message}");
    }
}

impl Output {
    /// Text unless `json`.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// One message: a header line Satchel writes (who, verified or not), then the text,
    /// every line behind a bar the text cannot produce.
    fn message(&self, message: &Message) {
        if self.json {
            print_json(&json!({
                "from": message.from,
                "role": message.role.map_or("unverified", Role::as_str),
                "verified": message.verified,
                "text": message.text,
                "sent_at": message.sent_at,
                "outgoing": message.outgoing,
                "group": message.group,
                "group_id": message.group_id,
                "read_by": message.read_by,
                "read_of": message.read_of,
            }));
            return;
        }
        let who = if message.outgoing {
            "you".to_string()
        } else if message.verified {
            format!(
                "{} ({}, verified by the school)",
                display::name(&message.from),
                message.role.map_or("member", Role::as_str)
            )
        } else {
            format!(
                "NOT VERIFIED — {}: the school does not vouch for this sender",
                display::name(&message.from)
            )
        };
        match &message.group {
            Some(group) => println!(
                "[{}] {who} in group {}",
                time(message.sent_at),
                display::name(group)
            ),
            None => println!("[{}] {who}", time(message.sent_at)),
        }
        for line in display::text_lines(&message.text) {
            println!("  │ {line}");
        }
        if let (Some(read_by), Some(read_of)) = (message.read_by, message.read_of) {
            println!("  read by {read_by} of {read_of}");
        }
    }

    /// Several messages.
    pub fn messages(&self, messages: &[Message]) {
        for message in messages {
            self.message(message);
        }
        if !self.json && messages.is_empty() {
            println!("No messages yet.");
        }
    }

    /// After `school create`.
    pub fn school_created(&self, name: &str, relay: &str, me: &Identity) {
        if self.json {
            print_json(&json!({ "school_id": me.school_id.to_hex(), "name": me.name }));
        } else {
            println!("School {} created on {relay}.", display::name(name));
            println!("School fingerprint: {}", me.school_id.to_hex());
            println!(
                "You are {}, the school's admin. Invite people with `satchel school invite`.",
                display::name(&me.name)
            );
            println!(
                "Keep a backup of this profile folder: it holds the school's root key (encrypted)."
            );
        }
    }

    /// An invite code, and with `qr` the same code as a QR code (text mode only).
    pub fn invite(&self, code: &str, qr: bool) {
        if self.json {
            print_json(&json!({ "code": code }));
            return;
        }
        if qr {
            // The code is ours (base32 and a URL): nothing to escape. A code too long
            // for a QR code (a very long relay address) is printed as text only.
            if let Ok(symbol) = qrcode::QrCode::new(code.as_bytes()) {
                let picture = symbol
                    .render::<qrcode::render::unicode::Dense1x2>()
                    .dark_color(qrcode::render::unicode::Dense1x2::Light)
                    .light_color(qrcode::render::unicode::Dense1x2::Dark)
                    .build();
                println!("{picture}");
            }
        }
        println!("{code}");
    }

    /// `school invites`.
    pub fn invites(&self, invites: &[IssuedInviteStatus]) {
        for invite in invites {
            if self.json {
                print_json(&json!(invite));
                continue;
            }
            let status = match invite.status {
                InviteStatus::Pending => "pending (not used yet)",
                InviteStatus::Joined => "joined",
                InviteStatus::Expired => "expired unused",
                InviteStatus::Revoked => "revoked",
                _ => "unknown",
            };
            println!(
                "{} — {} {} — {status} — grant {}",
                display::name(&invite.name),
                invite.role,
                invite
                    .classes
                    .iter()
                    .map(|c| display::name(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                invite.grant_id.get(..8).unwrap_or_default(),
            );
        }
        if !self.json && invites.is_empty() {
            println!("No invites issued from this device.");
        }
    }

    /// After `school revoke`.
    pub fn revoked(&self, name: &str, count: usize) {
        if self.json {
            print_json(&json!({ "revoked": count }));
        } else {
            println!(
                "Revoked {} ({count} certificate(s)). Their messages are no longer shown as verified.",
                display::name(name)
            );
        }
    }

    /// After `join`.
    pub fn joined(&self, me: &Identity) {
        if self.json {
            print_json(&json!(me));
        } else {
            let classes = if me.classes.is_empty() {
                String::new()
            } else {
                format!(
                    " of {}",
                    me.classes
                        .iter()
                        .map(|c| display::name(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let school = if me.school_name.is_empty() {
                "the school".to_owned()
            } else {
                display::name(&me.school_name)
            };
            println!(
                "Joined {school} as {}, {}{classes}.",
                display::name(&me.name),
                me.role
            );
            println!("School fingerprint: {}", me.school_id.to_hex());
            println!("Your fingerprint:   {}", me.fingerprint);
            if !me.admitted {
                println!(
                    "The school office still has to confirm your enrolment: until its Satchel \
                     has synced, others see you as not verified and you cannot send yet."
                );
            }
        }
    }

    /// `whoami`.
    pub fn whoami(&self, me: &Identity) {
        if self.json {
            print_json(&json!(me));
            return;
        }
        println!("name:        {}", display::name(&me.name));
        println!(
            "role:        {}{}",
            me.role,
            if me.admin {
                " (holds the school root key)"
            } else if me.office {
                " (an office of the school: invites, confirms and revokes)"
            } else {
                ""
            }
        );
        println!(
            "classes:     {}",
            me.classes
                .iter()
                .map(|c| display::name(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("account:     {}", me.account_id.to_hex());
        if me.school_name.is_empty() {
            println!("school:      {}", me.school_id.to_hex());
        } else {
            println!(
                "school:      {} (fingerprint {})",
                display::name(&me.school_name),
                me.school_id.to_hex()
            );
        }
        println!("fingerprint: {}", me.fingerprint);
        println!(
            "confirmed:   {}",
            if me.admitted {
                "yes, the school confirmed this enrolment"
            } else {
                "not yet: the school office's Satchel confirms new members when it syncs"
            }
        );
    }

    /// `contacts`.
    pub fn contacts(&self, contacts: &[Contact]) {
        for contact in contacts {
            if self.json {
                print_json(&json!(contact));
                continue;
            }
            let mark = if contact.verified {
                "verified"
            } else {
                "NOT VERIFIED"
            };
            println!(
                "{} — {} {} [{mark}] account {} safety number {}",
                display::name(&contact.name),
                contact.role,
                contact
                    .classes
                    .iter()
                    .map(|c| display::name(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                contact.account_id.to_hex(),
                contact.safety_number
            );
        }
        if !self.json && contacts.is_empty() {
            println!("Nobody else is in the school directory yet.");
        }
    }

    /// After `send`.
    pub fn sent(&self, to: &str, report: &SendReport) {
        if self.json {
            print_json(
                &json!({ "to": to, "delivered_to_relay": report.delivered_to_relay,
                                "pending": report.pending, "undeliverable": report.undeliverable }),
            );
        } else if report.delivered_to_relay {
            println!("Sent to {}.", display::name(to));
        } else {
            println!(
                "Saved for {}: the relay cannot be reached right now. The message is safe and goes out with the next `satchel sync` or `satchel send`.",
                display::name(to)
            );
        }
        if !self.json && report.undeliverable > 0 {
            println!(
                "{} older message(s) could not be delivered: the recipient's inbox no longer exists.",
                report.undeliverable
            );
        }
        if !self.json && report.refused_one_time_prekeys > 0 {
            println!(
                "Warning: {} one-time key(s) handed out for this conversation were not signed by the recipient's device (someone may be tampering with the school directory or the relay). The message went out without one and is still end-to-end encrypted.",
                report.refused_one_time_prekeys
            );
        }
    }

    /// One group (after create, add, remove; with its members for `group show`).
    pub fn group(&self, group: &GroupInfo, members: Option<&[String]>) {
        if self.json {
            let mut value = json!(group);
            if let (Some(members), Some(object)) = (members, value.as_object_mut()) {
                object.insert("members".to_string(), json!(members));
            }
            print_json(&value);
            return;
        }
        let kind = match group.kind {
            GroupKind::Announcement => "announcements",
            GroupKind::ClassGroup => "class group",
            GroupKind::TeamThread => "thread with the teachers",
        };
        let mut notes = Vec::new();
        if group.created_by_me {
            notes.push("you run it".to_string());
        }
        notes.push(if group.may_post {
            "you may post".to_string()
        } else {
            "read only for you".to_string()
        });
        if !group.active {
            notes.push("you were removed: nothing new arrives".to_string());
        }
        println!(
            "{} — {kind}{}, {} people ({}) id {}",
            display::name(&group.title),
            if group.class_name.is_empty() {
                String::new()
            } else {
                format!(" of {}", display::name(&group.class_name))
            },
            group.people,
            notes.join(", "),
            group.id
        );
        for member in members.unwrap_or_default() {
            println!("  · {}", display::name(member));
        }
    }

    /// `read-receipts`.
    pub fn read_receipts(&self, on: bool) {
        if self.json {
            print_json(&json!({ "read_receipts": on }));
        } else if on {
            println!("Authors of announcements are told when you read them.");
        } else {
            println!("Authors of announcements are not told when you read them.");
        }
    }

    /// `group list`.
    pub fn groups(&self, groups: &[GroupInfo]) {
        for group in groups {
            self.group(group, None);
        }
        if !self.json && groups.is_empty() {
            println!("You are in no group yet.");
        }
    }

    /// After `sync`.
    pub fn synced(&self, report: &SyncReport) {
        for message in &report.messages {
            self.message(message);
        }
        if self.json {
            if !report.dropped.is_empty()
                || report.flushed > 0
                || report.pending > 0
                || report.admitted > 0
            {
                print_json(
                    &json!({ "dropped": report.dropped, "flushed": report.flushed,
                    "pending": report.pending, "undeliverable": report.undeliverable,
                    "admitted": report.admitted }),
                );
            }
            return;
        }
        if report.messages.is_empty() {
            println!("No new messages.");
        }
        if report.admitted > 0 {
            println!(
                "Confirmed {} new member(s) of the school: others now see them as verified.",
                report.admitted
            );
        }
        if report.flushed > 0 {
            println!("{} message(s) saved earlier were sent now.", report.flushed);
        }
        if report.pending > 0 {
            println!(
                "{} message(s) still wait for the relay; they are safe and go out later.",
                report.pending
            );
        }
        for reason in &report.dropped {
            eprintln!("warning: skipped {reason}.");
        }
    }
}
