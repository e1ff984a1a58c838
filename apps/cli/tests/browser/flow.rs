//! A school's first day in the app: the office invites through its page (code and QR),
//! a teacher and a parent join by pasting their codes, they write to each other and
//! see each message arrive without reloading, hostile text stays text, both languages
//! render, and after the school revokes the teacher her next message shows NOT
//! VERIFIED.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::browser::{Driver, click, eval, fill, screenshot, text, wait_for_text};
use crate::support::{App, PASSPHRASE, School};

const LIVE: Duration = Duration::from_secs(15);

/// Joins through the page: choose a passphrase, paste the code, check what the school
/// wrote on it, confirm.
async fn join(browser: &Client, app: &App, code: &str, name: &str, role: &str, shot: Option<&str>) {
    browser.goto(&app.url).await.unwrap();
    fill(browser, "#passphrase", PASSPHRASE).await;
    fill(browser, "#again", PASSPHRASE).await;
    click(browser, "form[action='/unlock'] button").await;
    fill(browser, "#code", code).await;
    click(browser, "form[action='/join/preview'] button").await;
    assert_eq!(text(browser, "#preview-name").await, name);
    assert_eq!(text(browser, "#preview-role").await, role);
    assert_eq!(text(browser, "#preview-school").await, "Oak Primary");
    if let Some(shot) = shot {
        screenshot(browser, shot).await;
    }
    click(browser, "#join-confirm").await;
    browser
        .wait()
        .for_element(Locator::Css("#conversation-list"))
        .await
        .unwrap();
}

/// Reloads `path` until the "not confirmed yet" notice is gone (the office's sync
/// confirmed this member and the app's sync learned it).
async fn until_confirmed(browser: &Client, app: &App) {
    let start = Instant::now();
    loop {
        browser.goto(&format!("{}/", app.origin)).await.unwrap();
        let notices = browser
            .find_all(Locator::Css("main > p.notice"))
            .await
            .unwrap();
        if notices.is_empty() {
            return;
        }
        assert!(start.elapsed() < LIVE, "never confirmed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `message` from the open conversation page.
async fn send(browser: &Client, message: &str) {
    fill(browser, "#text", message).await;
    click(browser, "#send").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_and_a_parent_message_each_other_in_two_browsers() {
    let school = School::start();
    let driver = Driver::start();

    // The office invites both through its own app; the codes come off its page.
    let office_app = App::start(&school.admin.home, Some(PASSPHRASE));
    let office = driver.browser("en-GB,en").await;
    office.goto(&office_app.url).await.unwrap();
    click(&office, "nav a[href='/school']").await;
    let mut codes = Vec::new();
    for (role, name) in [("teacher", "Ms Rivera"), ("parent", "Sam's mum")] {
        office
            .find(Locator::Css("#invite-role"))
            .await
            .unwrap()
            .select_by_value(role)
            .await
            .unwrap();
        fill(&office, "#invite-name", name).await;
        fill(&office, "#invite-classes", "5B").await;
        click(&office, "form[action='/school/invite'] button").await;
        // The page that shows the new code (not the previous one's).
        wait_for_text(&office, "#code-title", name, LIVE).await;
        codes.push(text(&office, "#invite-code").await);
        assert!(
            office.find(Locator::Css("svg.qr path")).await.is_ok(),
            "no QR code"
        );
    }
    screenshot(&office, "office-invite").await;
    assert!(
        codes.iter().all(|c| c.starts_with("SATCHEL1-")),
        "{codes:?}"
    );

    // The teacher's browser speaks English, the parent's Dutch.
    let teacher_app = App::start(&school.dir.path().join("teacher"), None);
    let parent_app = App::start(&school.dir.path().join("parent"), None);
    let teacher = driver.browser("en-GB,en").await;
    let parent = driver.browser("nl-NL,nl").await;
    join(
        &teacher,
        &teacher_app,
        &codes[0],
        "Ms Rivera",
        "teacher",
        Some("join-confirm"),
    )
    .await;
    join(&parent, &parent_app, &codes[1], "Sam's mum", "ouder", None).await;
    assert_eq!(text(&teacher, "h1").await, "Messages");
    assert_eq!(text(&parent, "h1").await, "Berichten");

    // The office's app confirms new members by itself (its sync loop); wait for both.
    until_confirmed(&teacher, &teacher_app).await;
    until_confirmed(&parent, &parent_app).await;

    // The teacher finds the parent under People and writes; the parent sits on her
    // list, which must update without a reload.
    teacher
        .goto(&format!("{}/people", teacher_app.origin))
        .await
        .unwrap();
    wait_for_text(&teacher, "a.person", "Sam's mum", LIVE).await;
    click(&teacher, "a.person").await;
    let safety = text(&teacher, ".safety-number").await;
    assert!(
        safety.chars().filter(char::is_ascii_digit).count() >= 30,
        "{safety}"
    );
    screenshot(&teacher, "contact").await;
    click(&teacher, "a.button").await;
    eval(&parent, "window.satchelNoReload = 1; return 1").await;

    let sent = Instant::now();
    send(
        &teacher,
        "Hello! The class trip is on Friday; please pack a lunch.",
    )
    .await;
    wait_for_text(&teacher, "li.message.outgoing", "class trip", LIVE).await;
    wait_for_text(&parent, "a.conversation", "class trip", LIVE).await;
    let teacher_to_parent = sent.elapsed();
    assert_eq!(
        eval(&parent, "return window.satchelNoReload || 0").await,
        1,
        "the list reloaded"
    );
    assert_eq!(text(&parent, ".unread").await, "1");
    screenshot(&parent, "conversation-list-nl").await;

    // The parent opens it: the teacher's certified name, role and the verified badge.
    click(&parent, "a.conversation").await;
    wait_for_text(&parent, "li.message.incoming", "class trip", LIVE).await;
    assert_eq!(
        text(&parent, "li.message.incoming .from").await,
        "Ms Rivera"
    );
    assert_eq!(text(&parent, "li.message.incoming .role").await, "leraar");
    let badge = parent
        .find(Locator::Css("li.message.incoming .badge"))
        .await
        .unwrap();
    assert_eq!(
        badge.attr("data-verified").await.unwrap().as_deref(),
        Some("true")
    );

    // She replies with markup and script: it arrives live, as text.
    eval(&teacher, "window.satchelNoReload = 1; return 1").await;
    let hostile = "Thank you! <script>document.title='pwned'</script><b>bold</b><img src=x>";
    let replied = Instant::now();
    send(&parent, hostile).await;
    wait_for_text(&teacher, "li.message.incoming", "Thank you!", LIVE).await;
    let parent_to_teacher = replied.elapsed();
    assert_eq!(
        eval(&teacher, "return window.satchelNoReload || 0").await,
        1,
        "the page reloaded"
    );
    let shown = text(&teacher, "li.message.incoming .text").await;
    assert!(
        shown.contains("<script>document.title='pwned'</script><b>bold</b>"),
        "{shown}"
    );
    for tag in ["li.message script", "li.message b", "li.message img"] {
        assert!(
            teacher
                .find_all(Locator::Css(tag))
                .await
                .unwrap()
                .is_empty(),
            "{tag} rendered"
        );
    }
    assert_ne!(teacher.title().await.unwrap(), "pwned");
    screenshot(&teacher, "conversation").await;

    // The page asked nothing of any origin but the app's own.
    let loaded = eval(
        &teacher,
        "return performance.getEntriesByType('resource').map(e => e.name)",
    )
    .await;
    for url in loaded.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/", teacher_app.origin)),
            "the page loaded {url}"
        );
    }

    // A class announcement from the teacher's start page: the parent's list shows it
    // live; opening it confirms reading, and the teacher's page shows it live.
    parent
        .goto(&format!("{}/", parent_app.origin))
        .await
        .unwrap();
    teacher
        .goto(&format!("{}/", teacher_app.origin))
        .await
        .unwrap();
    fill(
        &teacher,
        "#announce-text",
        "Photos on Monday: wear the school jumper.",
    )
    .await;
    click(&teacher, "form[action='/announce'] button").await;
    wait_for_text(&teacher, "li.message.outgoing", "Photos on Monday", LIVE).await;
    wait_for_text(&parent, "a.conversation", "Photos on Monday", LIVE).await;
    click(&parent, "a.conversation").await;
    wait_for_text(&parent, "li.message.incoming", "Photos on Monday", LIVE).await;
    assert_eq!(text(&parent, "h1 .kind").await, "de ouders van 5B");
    // At phone width.
    parent.set_window_size(390, 844).await.unwrap();
    screenshot(&parent, "phone-announcement-nl").await;
    parent.set_window_size(1100, 900).await.unwrap();
    wait_for_text(&teacher, ".reads", "read by 1 of 1", LIVE).await;
    screenshot(&teacher, "announcement").await;
    // The parent's reply goes to the teachers of 5B, not to the other parents.
    fill(&parent, "#reply-text", "Will the photos be online?").await;
    click(&parent, "form.reply button").await;
    wait_for_text(&parent, "li.message.outgoing", "photos be online", LIVE).await;
    assert_eq!(text(&parent, "h1 .kind").await, "De leraren van 5B");
    // The teacher's list shows the thread with the parent's question; then back to the
    // conversation with the parent for what follows.
    teacher
        .goto(&format!("{}/", teacher_app.origin))
        .await
        .unwrap();
    wait_for_text(&teacher, "a.conversation", "photos be online", LIVE).await;
    wait_for_text(&teacher, "a.conversation", "Thank you!", LIVE).await;
    click(&teacher, "a.conversation[href^='/p/']").await;
    wait_for_text(&teacher, "li.message.incoming", "Thank you!", LIVE).await;

    println!(
        "live delivery in the browser: teacher→parent {} ms, parent→teacher {} ms",
        teacher_to_parent.as_millis(),
        parent_to_teacher.as_millis()
    );

    // The parent's app stops; the teacher writes again; the school revokes the teacher
    // before the parent's app fetches it: it shows NOT VERIFIED, outside the text.
    drop(parent_app);
    send(&teacher, "Please send me the payment for the trip today.").await;
    wait_for_text(&teacher, "li.message.outgoing", "payment", LIVE).await;
    school.admin.ok(&["school", "revoke", "Ms Rivera"]);
    let parent_app = App::start(&school.dir.path().join("parent"), None);
    parent.goto(&parent_app.url).await.unwrap();
    fill(&parent, "#passphrase", PASSPHRASE).await;
    click(&parent, "form[action='/unlock'] button").await;
    wait_for_text(&parent, "a.conversation", "payment", LIVE).await;
    click(&parent, "a.conversation").await;
    wait_for_text(&parent, "li.message.incoming", "payment", LIVE).await;
    let last = parent
        .find_all(Locator::Css("li.message.incoming"))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let badge = last.find(Locator::Css(".badge")).await.unwrap();
    assert_eq!(
        badge.attr("data-verified").await.unwrap().as_deref(),
        Some("false")
    );
    assert_eq!(badge.text().await.unwrap(), "⚠ NIET GEVERIFIEERD");
    screenshot(&parent, "not-verified-nl").await;

    // The footer switches the parent to English.
    parent
        .find(Locator::Css("#lang-switch"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();
    click(&parent, "footer button").await;
    assert_eq!(text(&parent, "h1").await, "Messages");

    for browser in [office, teacher, parent] {
        browser.close().await.unwrap();
    }
}
