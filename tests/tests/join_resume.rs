//! A join that stops after it redeemed its invite (the relay erases the record at that
//! moment) resumes when run again with the same code, through real relay processes on
//! 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;

use satchel_client::ClientError;
use satchel_client::relay::{RelayClient, RelayError};
use satchel_core::school::{InviteCode, Role};
use satchel_relay::Relay;
use satchel_relay_api::ErrorCode;

use crate::support::{client, oak_admin, relay};

async fn relay_at(data: &Path, address: SocketAddr, rate_limit: u32) -> Relay {
    relay(data, &address.to_string(), rate_limit).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_cut_off_after_redeeming_resumes_with_the_same_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (relay, url) = relay(&data, "127.0.0.1:0", 200).await;
    let address = relay.local_addr();
    let mut admin = oak_admin(dir.path(), &url).await;
    let code = admin
        .invite(Role::Teacher, "Ms Rivera", &["5B".to_string()])
        .await
        .unwrap();
    relay.shutdown().await;

    // The same relay, now allowing a burst of two requests: the join fetches the record
    // and redeems it, then its next request is refused (also when retried).
    let relay = relay_at(&data, address, 1).await;
    let home = dir.path().join("teacher");
    let mut teacher = client(&home, 2);
    match teacher.join(&code).await {
        Err(ClientError::Relay(RelayError::Rejected {
            code: ErrorCode::RateLimited,
            ..
        })) => {}
        other => panic!("expected the join to be cut off, got {other:?}"),
    }
    assert!(teacher.whoami().is_err(), "not enrolled yet");
    // It was cut off after redeeming: the relay no longer has the record. (127.0.0.1
    // went over its rate: wait until its debt is paid before asking.)
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let parsed = InviteCode::parse(&code).unwrap();
    let refused = RelayClient::new(&url)
        .unwrap()
        .get_invite(&parsed.school_id, &parsed.keys())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InviteUsed), "{refused}");
    relay.shutdown().await;

    // Back to normal. The record is gone from the relay, yet the same code finishes
    // the join from what the first attempt stored, also in a new process.
    let relay = relay_at(&data, address, 200).await;
    drop(teacher);
    let mut teacher = client(&home, 2);
    let me = teacher.join(&code).await.unwrap();
    assert_eq!((me.name.as_str(), me.role), ("Ms Rivera", Role::Teacher));
    assert!(!me.admitted, "the office has not confirmed her yet");
    assert_eq!(admin.confirm_new_members().await.unwrap(), 1);
    // And it is one enrolment, verified, with a working mailbox: the admin writes to
    // her and she reads it.
    let contacts = admin.contacts().await.unwrap();
    assert_eq!(
        contacts
            .iter()
            .filter(|c| c.name == "Ms Rivera" && c.verified)
            .count(),
        1,
        "{contacts:?}"
    );
    admin.send("Ms Rivera", "Welcome to Oak!").await.unwrap();
    let report = teacher.sync().await.unwrap();
    assert_eq!(
        report
            .messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["Welcome to Oak!"]
    );
    // Anyone else with the code gets nothing.
    let mut thief = client(&dir.path().join("thief"), 9);
    assert!(matches!(
        thief.join(&code).await,
        Err(ClientError::InviteUsed)
    ));
    relay.shutdown().await;
}
