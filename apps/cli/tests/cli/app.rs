//! `satchel app` as a hostile local web page or program would meet it: real app and
//! relay processes, raw HTTP requests. (What a person does in it is in `tests/browser`.)

use crate::support::{App, PASSPHRASE, School};

#[test]
fn the_app_refuses_requests_without_the_token_a_foreign_host_or_a_foreign_origin() {
    let school = School::start();
    let app = App::start(&school.admin.home, Some(PASSPHRASE));
    let host = format!("127.0.0.1:{}", app.port);
    let cookie = app.cookie();
    let own_origin = app.origin.clone();
    assert!(own_origin.starts_with("http://127.0.0.1:"), "{own_origin}");

    // No token: nothing but an explanation.
    let (status, body) = app.request("GET", "/", &[("Host", &host)], "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("address it printed"), "{body}");
    // A wrong token in the URL or the cookie.
    let (status, _) = app.request("GET", "/?token=00", &[("Host", &host)], "");
    assert_eq!(status, 401);
    let wrong = format!("satchel_token_{}={}", app.port, "0".repeat(64));
    assert_eq!(
        app.request("GET", "/", &[("Host", &host), ("Cookie", &wrong)], "")
            .0,
        401
    );

    // The right token in the URL becomes a cookie.
    let (status, _) = app.request(
        "GET",
        &format!("/?token={}", app.token),
        &[("Host", &host)],
        "",
    );
    assert_eq!(status, 303);
    let (status, page) = app.request("GET", "/", &[("Host", &host), ("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    assert!(page.contains("Oak Primary"), "{page}");

    // DNS rebinding: a foreign name pointed at 127.0.0.1, with or without the cookie.
    for evil in [
        "evil.example",
        "evil.example:80",
        &format!("attacker.test:{}", app.port),
    ] {
        let (status, _) = app.request("GET", "/", &[("Host", evil), ("Cookie", &cookie)], "");
        assert_eq!(status, 421, "{evil}");
    }
    let (status, _) = app.request("GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(status, 421, "no Host at all");

    // A change from another page: foreign Origin, missing Origin, "null" Origin.
    let change = "on=false";
    for origin in [
        Some("http://evil.example"),
        Some("null"),
        Some("http://127.0.0.1:1"),
        None,
    ] {
        let mut headers = vec![("Host", host.as_str()), ("Cookie", cookie.as_str())];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let (status, _) = app.request("POST", "/settings/read-receipts", &headers, change);
        assert_eq!(status, 403, "{origin:?}");
    }
    // Nothing changed: read confirmations are still on.
    let (_, settings) = app.request(
        "GET",
        "/settings",
        &[("Host", &host), ("Cookie", &cookie)],
        "",
    );
    assert!(settings.contains(r#"value="true" checked"#), "{settings}");
    // The app's own page may.
    let (status, _) = app.request(
        "POST",
        "/settings/read-receipts",
        &[
            ("Host", &host),
            ("Cookie", &cookie),
            ("Origin", &own_origin),
        ],
        change,
    );
    assert_eq!(status, 303);
    let (_, settings) = app.request(
        "GET",
        "/settings",
        &[("Host", &host), ("Cookie", &cookie)],
        "",
    );
    assert!(settings.contains(r#"value="false" checked"#), "{settings}");

    // Every answer carries the CSP, refusals too.
    let raw = {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", app.port)).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.to_lowercase()
    };
    assert!(
        raw.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{raw}"
    );
}
