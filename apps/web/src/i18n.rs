//! The message catalogue: every text the app shows, in English and Dutch.
//!
//! Each [`Text`] maps to both translations in one `match` arm, so a text without a
//! translation does not compile. Texts with values in them are functions below the
//! catalogue. The language comes from the `lang` cookie (the switch in the footer), or
//! else from the browser's `Accept-Language`.

use axum::http::HeaderMap;

/// A language the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Dutch.
    Nl,
}

/// The cookie that holds a chosen language.
pub const LANG_COOKIE: &str = "satchel_lang";

impl Lang {
    /// The `lang` attribute value.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }

    /// Parses `en` or `nl` (any case).
    #[must_use]
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "nl" => Some(Lang::Nl),
            _ => None,
        }
    }

    /// The language of a request: the cookie, else the first of `Accept-Language`'s
    /// languages (by weight) that the app speaks, else English.
    #[must_use]
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = crate::security::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(u16, Lang)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Weights are 0..=1 with three decimals; compare them as integers.
            #[allow(clippy::cast_possible_truncation)] // clamped to 0..=1000 first
            let weight = (weight.clamp(0.0, 1.0) * 1000.0).round() as u16;
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary)
                && weight > 0
                && best.is_none_or(|(w, _)| weight > w)
            {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The text in this language.
    #[must_use]
    pub fn t(self, text: Text) -> &'static str {
        let (en, nl) = text.both();
        match self {
            Lang::En => en,
            Lang::Nl => nl,
        }
    }
}

/// Every fixed text in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Text {
    AppName,
    Conversations,
    Contacts,
    School,
    Settings,
    NoConversations,
    Verified,
    NotVerified,
    NotVerifiedWarning,
    You,
    Send,
    WriteMessage,
    Search,
    SearchPlaceholder,
    AllClasses,
    NoContacts,
    SafetyNumber,
    SafetyNumberHelp,
    WriteTo,
    Role,
    Classes,
    Unlock,
    UnlockTitle,
    Passphrase,
    PassphraseAgain,
    ChoosePassphrase,
    ChoosePassphraseHelp,
    Welcome,
    WelcomeHelp,
    JoinTitle,
    InviteCode,
    InviteCodeHelp,
    Continue,
    JoinConfirmTitle,
    JoinConfirmHelp,
    JoinConfirm,
    Cancel,
    CreateSchoolTitle,
    CreateSchoolHelp,
    SchoolName,
    RelayUrl,
    RegistrationToken,
    CreateSchool,
    InviteTitle,
    InviteHelp,
    Name,
    ClassesHelp,
    CreateInvite,
    InviteCreatedHelp,
    Invites,
    NoInvites,
    Revoke,
    RevokeTitle,
    RevokeHelp,
    WaitingToSend,
    RetryNow,
    SentToRelay,
    NotSentYet,
    Announcements,
    ClassGroups,
    TeamThreads,
    NewAnnouncement,
    AnnounceHelp,
    Class,
    WholeSchool,
    Post,
    WriteToTeachers,
    WriteToTeachersHelp,
    NewClassGroup,
    ParentsMayPost,
    CreateGroup,
    Members,
    OnlyStaffPost,
    RemovedFromGroup,
    ReadReceipts,
    ReadReceiptsHelp,
    On,
    Off,
    Save,
    Language,
    ErrorTitle,
    Back,
    Teacher,
    Staff,
    Parent,
    Admin,
    Member,
    Unknown,
    AwaitingConfirmation,
    Status,
    Pending,
    Used,
    Expired,
    Revoked,
    StoreLocked,
    SkipToContent,
    Menu,
}

impl Text {
    /// (English, Dutch).
    #[allow(clippy::too_many_lines)]
    fn both(self) -> (&'static str, &'static str) {
        match self {
            Text::AppName => ("Satchel", "Satchel"),
            Text::Conversations => ("Messages", "Berichten"),
            Text::Contacts => ("People", "Mensen"),
            Text::School => ("School", "School"),
            Text::Settings => ("Settings", "Instellingen"),
            Text::NoConversations => (
                "No messages yet. Pick someone under People to write to.",
                "Nog geen berichten. Kies iemand bij Mensen om te schrijven.",
            ),
            Text::Verified => ("verified by the school", "geverifieerd door de school"),
            Text::NotVerified => ("NOT VERIFIED", "NIET GEVERIFIEERD"),
            Text::NotVerifiedWarning => (
                "The school does not vouch for this sender (revoked, expired or unknown). Do not follow requests for money or new phone numbers.",
                "De school staat niet in voor deze afzender (ingetrokken, verlopen of onbekend). Ga niet in op verzoeken om geld of een nieuw telefoonnummer.",
            ),
            Text::You => ("you", "jij"),
            Text::Send => ("Send", "Versturen"),
            Text::WriteMessage => ("Your message", "Je bericht"),
            Text::Search => ("Search", "Zoeken"),
            Text::SearchPlaceholder => ("Name or class", "Naam of klas"),
            Text::AllClasses => ("Everyone", "Iedereen"),
            Text::NoContacts => ("Nobody found.", "Niemand gevonden."),
            Text::SafetyNumber => ("Safety number", "Veiligheidsnummer"),
            Text::SafetyNumberHelp => (
                "Compare this number with the one on their device, in person. If they match, nobody stands between you.",
                "Vergelijk dit nummer met dat op hun toestel, als je elkaar ziet. Komen ze overeen, dan zit er niemand tussen jullie.",
            ),
            Text::WriteTo => ("Write a message", "Schrijf een bericht"),
            Text::Role => ("Role", "Rol"),
            Text::Classes => ("Classes", "Klassen"),
            Text::Unlock => ("Unlock", "Ontgrendelen"),
            Text::UnlockTitle => ("Unlock Satchel", "Satchel ontgrendelen"),
            Text::Passphrase => ("Passphrase", "Wachtwoordzin"),
            Text::PassphraseAgain => ("The passphrase again", "Nog eens de wachtwoordzin"),
            Text::ChoosePassphrase => ("Choose a passphrase", "Kies een wachtwoordzin"),
            Text::ChoosePassphraseHelp => (
                "Your messages are stored encrypted on this computer under this passphrase. A few words are easy to remember and hard to guess. Nobody can recover it for you.",
                "Je berichten worden op deze computer versleuteld bewaard met deze wachtwoordzin. Een paar woorden zijn makkelijk te onthouden en moeilijk te raden. Niemand kan hem voor je terughalen.",
            ),
            Text::Welcome => ("Welcome to Satchel", "Welkom bij Satchel"),
            Text::WelcomeHelp => (
                "Messages between school and home, end-to-end encrypted. Did the school give you an invite code? Paste it below.",
                "Berichten tussen school en thuis, end-to-end versleuteld. Heb je van school een uitnodigingscode gekregen? Plak hem hieronder.",
            ),
            Text::JoinTitle => ("Join your school", "Aanmelden bij je school"),
            Text::InviteCode => ("Invite code", "Uitnodigingscode"),
            Text::InviteCodeHelp => (
                "It starts with SATCHEL1-. Case and spaces do not matter.",
                "Hij begint met SATCHEL1-. Hoofdletters en spaties maken niet uit.",
            ),
            Text::Continue => ("Continue", "Verder"),
            Text::JoinConfirmTitle => ("Is this you?", "Ben jij dit?"),
            Text::JoinConfirmHelp => (
                "The school wrote this on the invite. Join only if it is right: a code can be used once.",
                "Dit heeft de school op de uitnodiging gezet. Meld je alleen aan als het klopt: een code werkt maar één keer.",
            ),
            Text::JoinConfirm => ("Yes, join", "Ja, aanmelden"),
            Text::Cancel => ("Cancel", "Annuleren"),
            Text::CreateSchoolTitle => ("Or: set up a school", "Of: een school opzetten"),
            Text::CreateSchoolHelp => (
                "For the school's office. This computer will hold the school's root key and invite teachers and parents.",
                "Voor de administratie van de school. Deze computer bewaart de hoofdsleutel van de school en nodigt leraren en ouders uit.",
            ),
            Text::SchoolName => ("School name", "Naam van de school"),
            Text::RelayUrl => ("Relay address", "Adres van de relay"),
            Text::RegistrationToken => (
                "Registration token (from whoever runs the relay)",
                "Registratiecode (van wie de relay beheert)",
            ),
            Text::CreateSchool => ("Create the school", "School aanmaken"),
            Text::InviteTitle => ("Invite someone", "Iemand uitnodigen"),
            Text::InviteHelp => (
                "Give the code to one person, on paper or in person. It works once, for 14 days.",
                "Geef de code aan één persoon, op papier of persoonlijk. Hij werkt één keer, 14 dagen lang.",
            ),
            Text::Name => ("Name", "Naam"),
            Text::ClassesHelp => (
                "Classes, separated by commas (e.g. 5B, 6A)",
                "Klassen, gescheiden door komma's (bijv. 5B, 6A)",
            ),
            Text::CreateInvite => ("Create invite code", "Uitnodigingscode maken"),
            Text::InviteCreatedHelp => (
                "The invite code (also as a QR code to scan):",
                "De uitnodigingscode (ook als QR-code om te scannen):",
            ),
            Text::Invites => ("Invites", "Uitnodigingen"),
            Text::NoInvites => ("No invites yet.", "Nog geen uitnodigingen."),
            Text::Revoke => ("Revoke", "Intrekken"),
            Text::RevokeTitle => ("Revoke a member", "Een lid intrekken"),
            Text::RevokeHelp => (
                "Everyone's app then shows their messages as NOT VERIFIED and refuses to send to them.",
                "Ieders app toont hun berichten dan als NIET GEVERIFIEERD en weigert naar hen te versturen.",
            ),
            Text::WaitingToSend => (
                "Some messages are waiting to be sent: the relay cannot be reached. They are sent as soon as it can.",
                "Er wachten berichten om verstuurd te worden: de relay is niet bereikbaar. Ze gaan weg zodra dat weer kan.",
            ),
            Text::RetryNow => ("Try again now", "Nu opnieuw proberen"),
            Text::SentToRelay => ("sent", "verstuurd"),
            Text::NotSentYet => ("waiting to send", "wacht op versturen"),
            Text::Announcements => ("Announcements", "Mededelingen"),
            Text::ClassGroups => ("Class groups", "Klasgroepen"),
            Text::TeamThreads => ("Teachers of a class", "Leraren van een klas"),
            Text::NewAnnouncement => ("New announcement", "Nieuwe mededeling"),
            Text::AnnounceHelp => (
                "Goes to every parent of the class. Replies come to you privately, never to all parents.",
                "Gaat naar alle ouders van de klas. Antwoorden komen privé bij jou, nooit bij alle ouders.",
            ),
            Text::Class => ("Class", "Klas"),
            Text::WholeSchool => ("the whole school", "de hele school"),
            Text::Post => ("Post", "Plaatsen"),
            Text::WriteToTeachers => (
                "Write to the teachers of a class",
                "Schrijf naar de leraren van een klas",
            ),
            Text::WriteToTeachersHelp => (
                "Reaches every teacher of the class this week, substitutes included.",
                "Bereikt elke leraar van de klas deze week, invallers inbegrepen.",
            ),
            Text::NewClassGroup => ("New class group", "Nieuwe klasgroep"),
            Text::ParentsMayPost => ("Parents may post", "Ouders mogen berichten plaatsen"),
            Text::CreateGroup => ("Create group", "Groep aanmaken"),
            Text::Members => ("Members", "Leden"),
            Text::OnlyStaffPost => (
                "Only the class's staff post here.",
                "Alleen het personeel van de klas plaatst hier berichten.",
            ),
            Text::RemovedFromGroup => (
                "You are no longer in this group: nothing new arrives.",
                "Je zit niet meer in deze groep: er komt niets nieuws binnen.",
            ),
            Text::ReadReceipts => ("Read confirmations", "Leesbevestigingen"),
            Text::ReadReceiptsHelp => (
                "Tell the author of an announcement that you read it.",
                "Laat de schrijver van een mededeling weten dat je hem gelezen hebt.",
            ),
            Text::On => ("On", "Aan"),
            Text::Off => ("Off", "Uit"),
            Text::Save => ("Save", "Opslaan"),
            Text::Language => ("Language", "Taal"),
            Text::ErrorTitle => ("That did not work", "Dat lukte niet"),
            Text::Back => ("Back", "Terug"),
            Text::Teacher => ("teacher", "leraar"),
            Text::Staff => ("staff", "personeel"),
            Text::Parent => ("parent", "ouder"),
            Text::Admin => ("school office", "schooladministratie"),
            Text::Member => ("member", "lid"),
            Text::Unknown => ("unknown", "onbekend"),
            Text::AwaitingConfirmation => (
                "The school has not confirmed you yet: you can read, and send once it has.",
                "De school heeft je nog niet bevestigd: je kunt lezen, en versturen zodra dat gebeurd is.",
            ),
            Text::Status => ("Status", "Status"),
            Text::Pending => ("not used yet", "nog niet gebruikt"),
            Text::Used => ("used", "gebruikt"),
            Text::Expired => ("expired", "verlopen"),
            Text::Revoked => ("revoked", "ingetrokken"),
            Text::StoreLocked => (
                "Wrong passphrase, or the profile folder is damaged.",
                "Verkeerde wachtwoordzin, of de profielmap is beschadigd.",
            ),
            Text::SkipToContent => ("Skip to content", "Naar de inhoud"),
            Text::Menu => ("Main menu", "Hoofdmenu"),
        }
    }
}

/// "Read by N of M".
#[must_use]
pub fn read_by(lang: Lang, n: usize, m: usize) -> String {
    match lang {
        Lang::En => format!("read by {n} of {m}"),
        Lang::Nl => format!("gelezen door {n} van {m}"),
    }
}

/// "N unread".
#[must_use]
pub fn unread(lang: Lang, n: usize) -> String {
    match lang {
        Lang::En => format!("{n} unread"),
        Lang::Nl => format!("{n} ongelezen"),
    }
}

/// "N people".
#[must_use]
pub fn people(lang: Lang, n: usize) -> String {
    match (lang, n) {
        (Lang::En, 1) => "1 person".to_string(),
        (Lang::En, _) => format!("{n} people"),
        (Lang::Nl, 1) => "1 persoon".to_string(),
        (Lang::Nl, _) => format!("{n} personen"),
    }
}

/// "The teachers of 5B".
#[must_use]
pub fn teachers_of(lang: Lang, class: &str) -> String {
    match lang {
        Lang::En => format!("The teachers of {class}"),
        Lang::Nl => format!("De leraren van {class}"),
    }
}

/// The private reply under an announcement.
#[must_use]
pub fn reply_to_teachers(lang: Lang, class: &str) -> String {
    match lang {
        Lang::En => format!("Reply to the teachers of {class} (other parents do not see it)"),
        Lang::Nl => format!("Antwoord de leraren van {class} (andere ouders zien het niet)"),
    }
}

/// "Parents of 5B" (the announcement's audience).
#[must_use]
pub fn parents_of(lang: Lang, class: &str) -> String {
    match lang {
        Lang::En => format!("the parents of {class}"),
        Lang::Nl => format!("de ouders van {class}"),
    }
}

/// A role's name.
#[must_use]
pub fn role(lang: Lang, role: satchel_core::school::Role) -> &'static str {
    use satchel_core::school::Role;
    lang.t(match role {
        Role::Teacher => Text::Teacher,
        Role::Staff => Text::Staff,
        Role::Parent => Text::Parent,
        Role::Admin => Text::Admin,
        _ => Text::Member,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn the_browser_language_picks_the_default() {
        assert_eq!(Lang::of(&with_accept("nl-NL,nl;q=0.9,en;q=0.8")), Lang::Nl);
        assert_eq!(Lang::of(&with_accept("en-GB,en;q=0.9,nl;q=0.8")), Lang::En);
        assert_eq!(Lang::of(&with_accept("de-DE,nl;q=0.5,en;q=0.4")), Lang::Nl);
        assert_eq!(Lang::of(&with_accept("fr")), Lang::En);
        assert_eq!(Lang::of(&with_accept("nl;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn the_cookie_overrides_the_browser() {
        let mut headers = with_accept("en");
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("a=b; satchel_lang=nl"),
        );
        assert_eq!(Lang::of(&headers), Lang::Nl);
    }
}
