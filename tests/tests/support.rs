//! Shared helpers: deterministic RNGs and ready-made session pairs.

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use satchel_core::{Account, Envelope, Session};

/// A deterministic RNG; the same seed gives the same keys and bytes.
pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Re-parses envelope bytes, as a receiver does with what the relay hands over.
pub fn wire(envelope: &Envelope) -> Envelope {
    Envelope::from_bytes(envelope.as_bytes()).expect("envelope parses")
}

/// Two accounts and a confirmed session pair (the initiator `alice` has heard back).
pub struct Pair {
    pub alice_account: Account,
    pub bob_account: Account,
    pub alice: Session,
    pub bob: Session,
}

pub fn confirmed_pair(rng: &mut ChaCha20Rng) -> Pair {
    let alice_account = Account::new(rng);
    let mut bob_account = Account::new(rng);
    let bundle = bob_account.prekey_bundle_with_one_time_prekey(rng);
    let mut alice = Session::initiate(&alice_account, &bundle, rng).unwrap();
    let first = alice.encrypt(b"first", rng).unwrap();
    let contact = bob_account.open_first_contact(&wire(&first)).unwrap();
    let inbound = bob_account.accept(&contact, rng).unwrap();
    assert_eq!(inbound.plaintext, b"first");
    let mut bob = inbound.session;
    let reply = bob.encrypt(b"reply", rng).unwrap();
    assert_eq!(alice.decrypt(&wire(&reply)).unwrap(), b"reply");
    assert!(alice.is_confirmed());
    Pair {
        alice_account,
        bob_account,
        alice,
        bob,
    }
}

/// A client over `home`, its store key a platform key made from `seed` (an app would keep
/// it in the Keychain).
pub fn client(home: &std::path::Path, seed: u8) -> satchel_client::Client {
    satchel_client::Client::open(
        home,
        satchel_client::ClientConfig {
            key: satchel_client::store::keyfile::KeySource::Platform(zeroize::Zeroizing::new(
                [seed; 32],
            )),
            transport: satchel_client::relay::TransportConfig::default(),
        },
    )
    .unwrap()
}

/// The registration token of the test relays.
pub const REGISTRATION_TOKEN: &str = "test-registration-token";

/// [`REGISTRATION_TOKEN`] as the relay holds it.
pub fn registration_token() -> satchel_relay::registration::RegistrationToken {
    satchel_relay::registration::RegistrationToken::new(REGISTRATION_TOKEN).unwrap()
}

/// A relay on `address` (port 0: any free port) over `data`, with `rate_limit` requests
/// per second per connection; returns it and its URL.
pub async fn relay(
    data: &std::path::Path,
    address: &str,
    rate_limit: u32,
) -> (satchel_relay::Relay, String) {
    let mut config = satchel_relay::Config::new(address.parse().unwrap(), data.to_path_buf());
    config.rate_limit = rate_limit;
    config.registration_token = Some(registration_token());
    let relay = satchel_relay::serve(config).await.unwrap();
    let url = format!("http://{}", relay.local_addr());
    (relay, url)
}

/// Oak Primary's admin (folder `admin` in `dir`, seed 1), its school created on `url`.
pub async fn oak_admin(dir: &std::path::Path, url: &str) -> satchel_client::Client {
    let mut admin = client(&dir.join("admin"), 1);
    admin
        .create_school("Oak Primary", url, Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
    admin
}

/// Ms Rivera (teacher of 5B, folder `teacher`, seed 2) and Sam's mum (parent of 5B,
/// folder `mum`, seed 3), each a real client joined with an invite from `admin`.
pub async fn teacher_and_mum(
    dir: &std::path::Path,
    admin: &mut satchel_client::Client,
) -> (satchel_client::Client, satchel_client::Client) {
    use satchel_core::school::Role;
    let mut join = async |folder: &str, seed: u8, role: Role, name: &str| {
        let code = admin.invite(role, name, &["5B".to_string()]).await.unwrap();
        let mut person = client(&dir.join(folder), seed);
        person.join(&code).await.unwrap();
        person
    };
    let teacher = join("teacher", 2, Role::Teacher, "Ms Rivera").await;
    let mum = join("mum", 3, Role::Parent, "Sam's mum").await;
    // The office confirms both (the school root admits the accounts that redeemed).
    assert_eq!(admin.confirm_new_members().await.unwrap(), 2);
    (teacher, mum)
}

/// `person` joins with `code`, then `admin` (the office's device) confirms the new
/// member, as its sync does: from then on others see `person` as verified.
pub async fn join_confirmed(
    admin: &mut satchel_client::Client,
    person: &mut satchel_client::Client,
    code: &str,
) -> satchel_client::Identity {
    person.join(code).await.unwrap();
    assert_eq!(admin.confirm_new_members().await.unwrap(), 1);
    person.whoami().unwrap()
}

/// Someone's store, opened beside their client (the test holds their platform key, as
/// [`client`] makes it from `seed`).
pub fn open_store(home: &std::path::Path, seed: u8) -> satchel_client::store::SqliteStore {
    use satchel_client::store::keyfile::{KeyFile, KeySource};
    let file = KeyFile::from_bytes(&std::fs::read(home.join("store.key")).unwrap()).unwrap();
    let key = file
        .unlock(&KeySource::Platform(zeroize::Zeroizing::new([seed; 32])))
        .unwrap();
    satchel_client::store::SqliteStore::open(&home.join("satchel.db"), &key).unwrap()
}

/// The account stored in someone's profile.
pub fn stored_account(home: &std::path::Path, seed: u8) -> satchel_core::Account {
    open_store(home, seed).account().unwrap().unwrap()
}

/// A member of Oak Primary in folder `folder` of `dir` (store seed `seed`), invited by
/// `admin` and confirmed, as [`join_confirmed`] does.
pub async fn enrol(
    admin: &mut satchel_client::Client,
    dir: &std::path::Path,
    (folder, seed): (&str, u8),
    role: satchel_core::school::Role,
    name: &str,
    class: &str,
) -> satchel_client::Client {
    let code = admin
        .invite(role, name, &[class.to_string()])
        .await
        .unwrap();
    let mut person = client(&dir.join(folder), seed);
    join_confirmed(admin, &mut person, &code).await;
    person
}
