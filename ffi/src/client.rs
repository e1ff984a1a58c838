//! [`SatchelClient`]: the whole client (enrolment, directory, send, sync, history) for
//! apps that do not want to run the protocol themselves.

use std::path::PathBuf;
use std::sync::Arc;

use satchel_client::relay::TransportConfig;
use satchel_client::store::keyfile::KeySource;
use satchel_client::{Client, ClientConfig};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::SatchelError;
use crate::runtime::run;

/// A role in the school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Runs the school's Satchel (creates invites, revokes members).
    Admin,
    /// A teacher of the classes in their certificate.
    Teacher,
    /// Other school staff.
    Staff,
    /// A parent or guardian of a pupil in the classes in their certificate.
    Parent,
}

impl From<Role> for satchel_core::school::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Teacher => Self::Teacher,
            Role::Staff => Self::Staff,
            Role::Parent => Self::Parent,
        }
    }
}

impl From<satchel_core::school::Role> for Role {
    fn from(role: satchel_core::school::Role) -> Self {
        use satchel_core::school::Role as Core;
        match role {
            Core::Admin => Self::Admin,
            Core::Teacher => Self::Teacher,
            Core::Parent => Self::Parent,
            // Staff, and a role a later core adds before the bindings learn it.
            _ => Self::Staff,
        }
    }
}

/// Who this device is.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Identity {
    /// The name the school gave.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The classes.
    pub classes: Vec<String>,
    /// The account id (hex).
    pub account_id: String,
    /// The school's name as its admin gave it (empty for a school joined before 0.2).
    /// Text from the invite: escape it before display.
    pub school_name: String,
    /// The school's fingerprint (hex), to compare with what the school publishes.
    pub school_id: String,
    /// This account's fingerprint.
    pub fingerprint: String,
    /// Whether this device holds the school's root key.
    pub admin: bool,
    /// Whether this device is an office of the school (an admin the root confirmed):
    /// it invites, confirms and revokes without the root key.
    pub office: bool,
    /// Whether the school confirmed this enrolment. Until it does, others see this
    /// person as not verified and `send` fails with `NotYetAdmitted`; `sync` picks the
    /// confirmation up.
    pub admitted: bool,
}

impl From<satchel_client::Identity> for Identity {
    fn from(i: satchel_client::Identity) -> Self {
        Self {
            name: i.name,
            role: i.role.into(),
            classes: i.classes,
            account_id: i.account_id.to_hex(),
            school_name: i.school_name,
            school_id: i.school_id.to_hex(),
            fingerprint: i.fingerprint,
            admin: i.admin,
            office: i.office,
            admitted: i.admitted,
        }
    }
}

/// A person in the school directory.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Contact {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Their classes.
    pub classes: Vec<String>,
    /// Whether the school vouches for them now (certified, not revoked, not expired).
    pub verified: bool,
    /// Their account id (hex): use it instead of the name when two people share one.
    pub account_id: String,
    /// The safety number to compare in person.
    pub safety_number: String,
}

impl From<satchel_client::Contact> for Contact {
    fn from(c: satchel_client::Contact) -> Self {
        Self {
            name: c.name,
            role: c.role.into(),
            classes: c.classes,
            verified: c.verified,
            account_id: c.account_id.to_hex(),
            safety_number: c.safety_number,
        }
    }
}

/// A message to show.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Message {
    /// The sender's name as the school certified it, or a stranger's label.
    pub sender_name: String,
    /// The sender's role as the school certified it when the message arrived; `None`
    /// when the school did not vouch for the sender (then `verified` is false too).
    pub role: Option<Role>,
    /// Whether the school vouched for the sender when the message arrived. Show
    /// unverified messages differently (they may be "hi mum, new number" fraud).
    pub verified: bool,
    /// The text.
    pub text: String,
    /// When the sender sent it (their clock, Unix milliseconds).
    pub sent_at: u64,
    /// Whether this device sent it.
    pub outgoing: bool,
    /// The group it was posted in (its title: the creator chose it, escape it), or
    /// `None` for a message between two people.
    pub group: Option<String>,
    /// The group's id (hex), or `None`.
    pub group_id: Option<String>,
    /// This device's announcement: how many people confirmed reading it, else `None`
    /// (people can switch confirmations off: a lower bound).
    pub read_by: Option<u32>,
    /// …of how many people it went to.
    pub read_of: Option<u32>,
}

impl From<satchel_client::Message> for Message {
    fn from(m: satchel_client::Message) -> Self {
        Self {
            sender_name: m.from,
            role: m.role.map(Role::from),
            verified: m.verified,
            text: m.text,
            sent_at: m.sent_at,
            outgoing: m.outgoing,
            group: m.group,
            group_id: m.group_id,
            read_by: m.read_by.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            read_of: m.read_of.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
}

/// What kind of group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum GroupKind {
    /// A teacher (or the office, for the whole school) posts to every parent of a class.
    Announcement,
    /// Teachers and parents of a class; parents post if the teacher allows it.
    ClassGroup,
    /// A parent's thread with the teachers of a class.
    TeamThread,
}

impl From<GroupKind> for satchel_client::GroupKind {
    fn from(kind: GroupKind) -> Self {
        match kind {
            GroupKind::Announcement => Self::Announcement,
            GroupKind::ClassGroup => Self::ClassGroup,
            GroupKind::TeamThread => Self::TeamThread,
        }
    }
}

impl From<satchel_client::GroupKind> for GroupKind {
    fn from(kind: satchel_client::GroupKind) -> Self {
        match kind {
            satchel_client::GroupKind::Announcement => Self::Announcement,
            satchel_client::GroupKind::ClassGroup => Self::ClassGroup,
            satchel_client::GroupKind::TeamThread => Self::TeamThread,
        }
    }
}

/// A group this device is in (or was).
#[derive(Debug, Clone, uniffi::Record)]
pub struct Group {
    /// Its id (hex); a prefix of 6 characters or more names it.
    pub id: String,
    /// Its kind.
    pub kind: GroupKind,
    /// Its title (the creator chose it: escape it).
    pub title: String,
    /// The class ("" for the whole school).
    pub class_name: String,
    /// How many people are in it.
    pub people: u32,
    /// Whether this device created it (and decides who is in it).
    pub created_by_me: bool,
    /// Whether this device may post.
    pub may_post: bool,
    /// Class groups: whether parents may post.
    pub members_may_post: bool,
    /// `false` once the creator removed this device.
    pub active: bool,
}

impl From<satchel_client::GroupInfo> for Group {
    fn from(g: satchel_client::GroupInfo) -> Self {
        Self {
            id: g.id,
            kind: g.kind.into(),
            title: g.title,
            class_name: g.class_name,
            people: u32::try_from(g.people).unwrap_or(u32::MAX),
            created_by_me: g.created_by_me,
            may_post: g.may_post,
            members_may_post: g.members_may_post,
            active: g.active,
        }
    }
}

/// The whole Satchel client for one profile folder: keys, sessions, contacts and
/// messages live in a SQLite database in `home_dir`.
///
/// Every method is `suspend` in Kotlin, `async` in Swift and Python: network calls run
/// on Satchel's own threads and never block the caller. Calls on one client are
/// serialised (a `send` waits for a running `sync`); one client object can be shared by
/// the whole app. Open one client per folder: two objects (or two processes) on the same
/// folder are safe for the data but wait for each other.
///
/// Crash safety: a received message is committed together with its session state before
/// the relay is told to delete it, and a sent message is stored in the outbox before it
/// goes out, so after a crash nothing is lost and nothing shows twice — call `sync()`
/// when the app starts.
///
/// ```kotlin
/// val client = SatchelClient(context.filesDir.resolve("satchel").path, storeKey, null)
/// lifecycleScope.launch {
///     client.join(code)
///     client.send("Ms Rivera", "Is the trip still on?")
///     for (m in client.sync()) show(m.senderName, m.verified, m.text)
/// }
/// ```
#[derive(uniffi::Object)]
pub struct SatchelClient {
    inner: Arc<Mutex<Client>>,
}

impl SatchelClient {
    /// The client, to lock inside a task on Satchel's runtime.
    fn shared(&self) -> Arc<Mutex<Client>> {
        Arc::clone(&self.inner)
    }

    async fn send_with(
        &self,
        to: String,
        text: String,
        options: satchel_client::SendOptions,
    ) -> Result<bool, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .send_with(&to, &text, options)
                .await?
                .delivered_to_relay)
        })
        .await
    }
}

#[uniffi::export]
impl SatchelClient {
    /// Opens (creating if needed) the profile in `home_dir`, encrypted under
    /// `store_key`: 32 random bytes the app creates once and keeps in the platform's
    /// keystore (Android Keystore-wrapped preferences, the iOS Keychain with
    /// `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`); see `ffi/README.md`. Pass the
    /// same key every time. `extra_ca_pem` is the school's own CA certificate (PEM) if its
    /// relay's TLS certificate does not come from a public authority, else `null`.
    /// Local only, fast.
    ///
    /// # Errors
    /// `InvalidInput` for a key that is not 32 bytes or an unreadable CA certificate;
    /// `WrongStoreKey` if the key does not open this folder; `Storage` if the folder or
    /// its database cannot be used (e.g. readable by other users).
    #[uniffi::constructor]
    pub fn new(
        home_dir: String,
        store_key: Vec<u8>,
        extra_ca_pem: Option<Vec<u8>>,
    ) -> Result<Arc<Self>, SatchelError> {
        let store_key = Zeroizing::new(store_key);
        let mut key = Zeroizing::new([0u8; 32]);
        if store_key.len() != key.len() {
            return Err(SatchelError::InvalidInput(format!(
                "the store key must be 32 bytes, not {}: create it once with a secure random generator and keep it in the platform keystore",
                store_key.len()
            )));
        }
        key.copy_from_slice(&store_key);
        let transport = match extra_ca_pem {
            Some(pem) => TransportConfig::with_extra_ca_pem(pem),
            None => TransportConfig::default(),
        };
        let config = ClientConfig {
            key: KeySource::Platform(key),
            transport,
        };
        let client = Client::open(&PathBuf::from(home_dir), config)?;
        Ok(Arc::new(Self {
            inner: Arc::new(Mutex::new(client)),
        }))
    }

    /// Enrols this device with an invite code from the school: creates keys, uploads
    /// prekeys, fetches the directory. Returns who this device now is.
    ///
    /// # Errors
    /// `InviteUsed`, `InvalidInvite`, `AlreadyEnrolled`, `Network`, `RelayRefused`.
    pub async fn join(&self, code: String) -> Result<Identity, SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.join(code.trim()).await?.into()) }).await
    }

    /// Who this device is.
    ///
    /// # Errors
    /// `NotEnrolled`, `Storage`.
    pub async fn whoami(&self) -> Result<Identity, SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.whoami()?.into()) }).await
    }

    /// The school directory (refreshed from the relay), with verified state and safety
    /// numbers.
    ///
    /// # Errors
    /// `NotEnrolled`, `Network`, `Storage`.
    pub async fn contacts(&self) -> Result<Vec<Contact>, SatchelError> {
        let client = self.shared();
        run(async move {
            let contacts = client.lock().await.contacts().await?;
            Ok(contacts.into_iter().map(Contact::from).collect())
        })
        .await
    }

    /// Sends `text` to `to` (a name from `contacts()` or an account id). The message is
    /// stored first; returns `true` if the relay accepted it now, `false` if it waits in
    /// the outbox (no network) and goes out with the next `send` or `sync`.
    ///
    /// # Errors
    /// `UnknownContact`, `AmbiguousContact`, `NotEnrolled`, `MessageTooLarge`, `Storage`.
    pub async fn send(&self, to: String, text: String) -> Result<bool, SatchelError> {
        self.send_with(to, text, satchel_client::SendOptions::new())
            .await
    }

    /// As `send`, also when the school does not vouch for the recipient now (revoked,
    /// expired). Call it only after the person saw the warning and insisted.
    ///
    /// # Errors
    /// As `send`, except `RecipientNotVerified`.
    pub async fn send_to_unverified(&self, to: String, text: String) -> Result<bool, SatchelError> {
        self.send_with(
            to,
            text,
            satchel_client::SendOptions::new().allow_unverified(),
        )
        .await
    }

    /// Fetches, decrypts and stores new messages, sends the outbox, and returns the new
    /// messages in arrival order. Damaged or forged envelopes are dropped (and not
    /// returned).
    ///
    /// # Errors
    /// `Network`, `RelayRefused`, `NotEnrolled`, `Storage`; messages stored before the
    /// error stay stored and are in `history`.
    pub async fn sync(&self) -> Result<Vec<Message>, SatchelError> {
        let client = self.shared();
        run(async move {
            let report = client.lock().await.sync().await?;
            Ok(report.messages.into_iter().map(Message::from).collect())
        })
        .await
    }

    /// The conversation with `with` (a name or account id), oldest first.
    ///
    /// # Errors
    /// `UnknownContact`, `AmbiguousContact`, `Storage`.
    pub async fn history(&self, with: String) -> Result<Vec<Message>, SatchelError> {
        let client = self.shared();
        run(async move {
            let history = client.lock().await.history(&with)?;
            Ok(history.into_iter().map(Message::from).collect())
        })
        .await
    }

    /// School admin: creates the school (root key, relay registration) and enrols this
    /// device as its admin. Returns the admin identity; `school_id` is the fingerprint to
    /// publish to parents. A relay registers new schools only with its operator's
    /// registration token: pass it as `registration_token`.
    ///
    /// # Errors
    /// `AlreadyEnrolled`, `InvalidInput` (a relay address that is not http(s)),
    /// `RegistrationRefused` (the relay registers no new schools, or the token is
    /// missing or wrong), `Network`, `RelayRefused`.
    #[uniffi::method(default(registration_token = None))]
    pub async fn create_school(
        &self,
        name: String,
        relay_url: String,
        registration_token: Option<String>,
    ) -> Result<Identity, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .create_school(&name, &relay_url, registration_token.as_deref())
                .await?
                .into())
        })
        .await
    }

    /// School admin: an invite code (one line, fits a QR code) for a teacher, staff
    /// member or parent of `classes`.
    ///
    /// # Errors
    /// `NotAdmin`, `InvalidInput` (e.g. a name that is too long), `Network`,
    /// `RelayRefused`.
    pub async fn invite(
        &self,
        role: Role,
        name: String,
        classes: Vec<String>,
    ) -> Result<String, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .invite(role.into(), &name, &classes)
                .await?)
        })
        .await
    }

    /// Creates a group of `class_name`; the school directory decides who is in it (see
    /// `GroupKind`). Staff create announcements and class groups; the office announces
    /// to the whole school (an empty class).
    ///
    /// # Errors
    /// `NotAllowedInGroup`, `NotYetAdmitted`, `MembershipEnded`, `InvalidInput` (too
    /// many devices), `Network`.
    #[uniffi::method(default(title = None, members_may_post = false))]
    pub async fn create_group(
        &self,
        kind: GroupKind,
        class_name: String,
        title: Option<String>,
        members_may_post: bool,
    ) -> Result<Group, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .create_group(kind.into(), &class_name, title.as_deref(), members_may_post)
                .await?
                .into())
        })
        .await
    }

    /// Every group this device is in (or was).
    ///
    /// # Errors
    /// `Storage`.
    pub async fn groups(&self) -> Result<Vec<Group>, SatchelError> {
        let client = self.shared();
        run(async move {
            let groups = client.lock().await.groups()?;
            Ok(groups.into_iter().map(Group::from).collect())
        })
        .await
    }

    /// The people in a group, as this device's school directory names them.
    ///
    /// # Errors
    /// `UnknownGroup`, `Storage`.
    pub async fn group_members(&self, group: String) -> Result<Vec<String>, SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.group_members(&group)?) }).await
    }

    /// A group's messages, oldest first.
    ///
    /// # Errors
    /// `UnknownGroup`, `Storage`.
    pub async fn group_history(&self, group: String) -> Result<Vec<Message>, SatchelError> {
        let client = self.shared();
        run(async move {
            let history = client.lock().await.group_history(&group)?;
            Ok(history.into_iter().map(Message::from).collect())
        })
        .await
    }

    /// Posts in a group (its title or id). Returns `true` if the relay took it now,
    /// `false` if it waits in the outbox.
    ///
    /// # Errors
    /// `UnknownGroup`, `NotAllowedInGroup`, `NotYetAdmitted`, `MembershipEnded`.
    pub async fn send_to_group(&self, group: String, text: String) -> Result<bool, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .send_to_group(&group, &text)
                .await?
                .delivered_to_relay)
        })
        .await
    }

    /// Posts to every parent of `class_name` (the whole school with "", from the office).
    ///
    /// # Errors
    /// As `create_group` and `send_to_group`.
    pub async fn announce(&self, class_name: String, text: String) -> Result<bool, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .announce(&class_name, &text)
                .await?
                .delivered_to_relay)
        })
        .await
    }

    /// Writes to the teachers of `class_name` ("the teachers of 5B"): whoever teaches it
    /// now receives it, and every one of them sees the others' replies.
    ///
    /// # Errors
    /// As `create_group` and `send_to_group`.
    pub async fn send_to_class_team(
        &self,
        class_name: String,
        text: String,
    ) -> Result<bool, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .send_to_class_team(&class_name, &text)
                .await?
                .delivered_to_relay)
        })
        .await
    }

    /// The creator adds a person to a group.
    ///
    /// # Errors
    /// `UnknownGroup`, `UnknownContact`, `NotAllowedInGroup`.
    pub async fn group_add(&self, group: String, person: String) -> Result<Group, SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.group_add(&group, &person).await?.into()) }).await
    }

    /// The creator removes a person: they read nothing sent afterwards.
    ///
    /// # Errors
    /// As `group_add`.
    pub async fn group_remove(&self, group: String, person: String) -> Result<Group, SatchelError> {
        let client = self.shared();
        run(async move {
            Ok(client
                .lock()
                .await
                .group_remove(&group, &person)
                .await?
                .into())
        })
        .await
    }

    /// Tells an announcement's author that this person read the group's messages: call
    /// it when they are shown. Nothing is sent when read confirmations are off, for
    /// other groups, or when nothing is new. Returns how many were confirmed.
    ///
    /// # Errors
    /// `UnknownGroup`, `Network`.
    pub async fn mark_group_read(&self, group: String) -> Result<u32, SatchelError> {
        let client = self.shared();
        run(async move {
            let count = client.lock().await.mark_group_read(&group).await?;
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Whether authors of announcements are told when this person reads them.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn read_receipts(&self) -> Result<bool, SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.read_receipts()?) }).await
    }

    /// Switches read confirmations on or off (kept in the profile).
    ///
    /// # Errors
    /// `Storage`.
    pub async fn set_read_receipts(&self, on: bool) -> Result<(), SatchelError> {
        let client = self.shared();
        run(async move { Ok(client.lock().await.set_read_receipts(on)?) }).await
    }
}
