//! An office — an admin the root invited and confirmed — runs the school day to day with
//! real clients and a real relay while the root stays away: it invites, confirms and
//! revokes (the revocation also rotates the directory key). The root revoking the office
//! ends its powers at the relay and in every app, and what it vouched for with them.

use satchel_client::ClientError;
use satchel_core::school::{Role, UnverifiedReason};

use crate::support::{client, join_confirmed, oak_admin, relay};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_invites_confirms_and_revokes_until_the_root_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = relay(&dir.path().join("relay"), "127.0.0.1:0", 1_000).await;
    let mut root = oak_admin(dir.path(), &url).await;
    let five_b = ["5B".to_string()];

    // The root invites the front office and confirms it: the office's app learns it at
    // its next sync.
    let code = root.invite(Role::Admin, "Front office", &[]).await.unwrap();
    let mut office = client(&dir.path().join("office"), 7);
    join_confirmed(&mut root, &mut office, &code).await;
    assert!(!office.whoami().unwrap().office, "not confirmed yet");
    office.sync().await.unwrap();
    let me = office.whoami().unwrap();
    assert!(me.office && !me.admin, "{me:?}");

    // From here on the root is away. The office invites and confirms a teacher and a
    // parent; they talk, verified.
    let teacher_code = office
        .invite(Role::Teacher, "Ms Rivera", &five_b)
        .await
        .unwrap();
    let mum_code = office
        .invite(Role::Parent, "Sam's mum", &five_b)
        .await
        .unwrap();
    let mut teacher = client(&dir.path().join("teacher"), 2);
    let mut mum = client(&dir.path().join("mum"), 3);
    join_confirmed(&mut office, &mut teacher, &teacher_code).await;
    join_confirmed(&mut office, &mut mum, &mum_code).await;
    teacher.send("Sam's mum", "Trip on Friday.").await.unwrap();
    let got = mum.sync().await.unwrap().messages;
    assert_eq!((got.len(), got[0].verified), (1, true), "{got:?}");
    assert_eq!(got[0].from, "Ms Rivera");
    // The office lists what it issued, and a teacher is no office.
    let issued = office.invites().await.unwrap();
    assert_eq!(issued.len(), 2);
    assert!(matches!(
        teacher.invite(Role::Parent, "Someone", &five_b).await,
        Err(ClientError::NotAdmin)
    ));

    // The office revokes the teacher: her messages stop verifying, the relay refuses
    // her, and the directory key moves on without her.
    assert_eq!(office.revoke("Ms Rivera").await.unwrap(), 1);
    mum.sync().await.unwrap();
    match mum.send("Ms Rivera", "Is the trip on?").await {
        Err(ClientError::RecipientNotVerified {
            reason: UnverifiedReason::Revoked,
            ..
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Others carry on with the office's new directory key.
    let gran_code = office
        .invite(Role::Parent, "Sam's gran", &five_b)
        .await
        .unwrap();
    let mut gran = client(&dir.path().join("gran"), 4);
    join_confirmed(&mut office, &mut gran, &gran_code).await;
    gran.send("Sam's mum", "Hello from gran").await.unwrap();
    let got = mum.sync().await.unwrap().messages;
    assert_eq!((got.len(), got[0].verified), (1, true), "{got:?}");

    // Someone the office invited joins while the office is away: the root confirms
    // them (the office's signature on the grant says who made it), and the office then
    // finds nothing left to confirm.
    let uncle_code = office
        .invite(Role::Parent, "Sam's uncle", &five_b)
        .await
        .unwrap();
    let mut uncle = client(&dir.path().join("uncle"), 5);
    uncle.join(&uncle_code).await.unwrap();
    // (The root's sync first adopts the directory key the office made when it revoked
    // the teacher: the uncle's code carries that key.)
    assert_eq!(root.sync().await.unwrap().admitted, 1);
    assert_eq!(office.confirm_new_members().await.unwrap(), 0);
    uncle.sync().await.unwrap();
    assert!(uncle.whoami().unwrap().admitted);

    // The root comes back and revokes the office: the relay and every app stop
    // accepting it, and the grants it made no longer verify (the school re-invites).
    assert_eq!(root.revoke("Front office").await.unwrap(), 1);
    match office.invite(Role::Parent, "One more", &five_b).await {
        Err(ClientError::MembershipEnded { .. } | ClientError::Relay(_)) => {}
        other => panic!("a revoked office invited: {other:?}"),
    }
    mum.sync().await.unwrap();
    match mum.send("Sam's gran", "Still there?").await {
        Err(ClientError::MembershipEnded {
            reason: UnverifiedReason::IssuerNotValid,
        }) => {}
        other => panic!("expected the office's grants to end, got {other:?}"),
    }
    server.shutdown().await;
}
