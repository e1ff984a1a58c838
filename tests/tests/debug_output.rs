//! `Debug` output never shows secrets. Snapshots pin the exact output, and a search for
//! the secret bytes themselves guards against a new field leaking.

use satchel_core::storage::export::ExportKey;
use satchel_proto::{Message, v1 as pb};

use crate::support::{confirmed_pair, rng};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every secret field of the persisted state, as hex and as a Rust byte list.
fn secrets_of(account: &pb::AccountState, session: &pb::SessionState) -> Vec<Vec<u8>> {
    let ratchet = session.ratchet.clone().unwrap();
    let mut secrets = vec![
        account.account_secret.clone(),
        account.device_dh_secret.clone(),
        account.device_signing_secret.clone(),
        account.mailbox.clone().unwrap().auth_secret,
        session.inbound.clone().unwrap().auth_secret,
        ratchet.dh_secret,
        ratchet.root_key,
        ratchet.next_sending_header_key,
        ratchet.next_receiving_header_key,
    ];
    secrets.extend(ratchet.sending_chain_key);
    secrets.extend(ratchet.receiving_chain_key);
    secrets.extend(ratchet.sending_header_key);
    secrets.extend(ratchet.receiving_header_key);
    secrets.extend(account.signed_prekeys.iter().map(|k| k.secret.clone()));
    secrets.extend(account.kem_prekeys.iter().map(|k| k.seed.clone()));
    secrets
}

#[test]
fn debug_output_is_pinned_and_contains_no_secret() {
    let mut rng = rng(42);
    let p = confirmed_pair(&mut rng);
    let account_state = pb::AccountState::decode(p.alice_account.to_bytes().as_slice()).unwrap();
    let session_state = pb::SessionState::decode(p.alice.to_bytes().as_slice()).unwrap();
    let key = ExportKey::from_bytes([0x5a; 32]);

    let account = format!("{:#?}", p.alice_account);
    let session = format!("{:#?}", p.alice);
    let queue = format!("{:#?}", p.alice.inbound_queue());
    let export_key = format!("{key:?}");
    insta::assert_snapshot!("account", account);
    insta::assert_snapshot!("session", session);
    insta::assert_snapshot!("queue_keys", queue);
    insta::assert_snapshot!("export_key", export_key);

    let all = [account, session, queue, export_key].join("\n");
    let mut secrets = secrets_of(&account_state, &session_state);
    secrets.push(vec![0x5a; 32]);
    for secret in secrets {
        assert!(!all.contains(&hex(&secret)), "a secret appears as hex");
        assert!(
            !all.contains(&format!("{secret:?}")),
            "a secret appears as a byte list"
        );
        assert!(
            !all.contains(&format!("{:?}", &secret[..8])),
            "a secret's prefix appears"
        );
    }
}
