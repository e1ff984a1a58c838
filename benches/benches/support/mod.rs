//! What the client benches share: a relay in this process on 127.0.0.1, and a school
//! with an admin, a teacher ("Ms Rivera", 5B) and a parent ("Sam's mum", 5B).
#![allow(dead_code)]

use std::path::Path;

use satchel_client::relay::TransportConfig;
use satchel_client::store::keyfile::KeySource;
use satchel_client::{Client, ClientConfig};
use satchel_core::school::Role;
use satchel_relay::{Config, Relay, serve};
use zeroize::Zeroizing;

pub fn config(seed: u8) -> ClientConfig {
    ClientConfig {
        key: KeySource::Platform(Zeroizing::new([seed; 32])),
        transport: TransportConfig::default(),
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn start_relay(data: &Path) -> (Relay, String) {
    start_relay_at(data, "127.0.0.1:0").await
}

/// The registration token of the benchmark's relay.
pub const REGISTRATION_TOKEN: &str = "bench-registration-token";

pub async fn start_relay_at(data: &Path, address: &str) -> (Relay, String) {
    let mut config = Config::new(address.parse().unwrap(), data.to_path_buf());
    // Setting up 2,000 conversations from one connection is faster than a person.
    config.rate_limit = 1_000_000;
    config.registration_token =
        Some(satchel_relay::registration::RegistrationToken::new(REGISTRATION_TOKEN).unwrap());
    let relay = serve(config).await.unwrap();
    let url = format!("http://{}", relay.local_addr());
    (relay, url)
}

/// A school with a teacher and a parent; returns (admin, teacher, parent) clients.
pub async fn school(dir: &Path, url: &str, unencrypted: bool) -> (Client, Client, Client) {
    let open = |name: &str, seed: u8| {
        let home = dir.join(name);
        if unencrypted {
            Client::open_unencrypted_for_benchmarks(&home, config(seed)).unwrap()
        } else {
            Client::open(&home, config(seed)).unwrap()
        }
    };
    let mut admin = open("admin", 1);
    admin
        .create_school("Oak Primary", url, Some(REGISTRATION_TOKEN))
        .await
        .unwrap();
    let teacher_code = admin
        .invite(Role::Teacher, "Ms Rivera", &["5B".into()])
        .await
        .unwrap();
    let parent_code = admin
        .invite(Role::Parent, "Sam's mum", &["5B".into()])
        .await
        .unwrap();
    let mut teacher = open("teacher", 2);
    teacher.join(&teacher_code).await.unwrap();
    let mut parent = open("parent", 3);
    parent.join(&parent_code).await.unwrap();
    // The office confirms both, as its sync does.
    admin.confirm_new_members().await.unwrap();
    (admin, teacher, parent)
}
