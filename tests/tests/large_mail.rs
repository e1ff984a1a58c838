//! More waiting mail than one fetch page holds (the relay answers about 1 MiB at a time):
//! one sync still delivers all of it, through a real relay on 127.0.0.1.

use satchel_core::school::Role;

use crate::support::{client, join_confirmed, oak_admin, relay};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_delivers_more_than_a_fetch_page_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 200).await;
    let mut admin = oak_admin(dir.path(), &url).await;
    let code = admin
        .invite(Role::Parent, "Sam's mum", &["5B".to_string()])
        .await
        .unwrap();
    let mut mum = client(&dir.path().join("mum"), 3);
    join_confirmed(&mut admin, &mut mum, &code).await;
    // Eight letters of 200 KB each: 1.6 MB waiting, more than one page.
    let letters: Vec<String> = (0..8)
        .map(|i| format!("{i}{}", "x".repeat(200 * 1024)))
        .collect();
    for letter in &letters {
        admin.send("Sam's mum", letter).await.unwrap();
    }
    let report = mum.sync().await.unwrap();
    let got: Vec<&str> = report.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(got, letters.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(mum.sync().await.unwrap().messages.is_empty());
    server.shutdown().await;
}
