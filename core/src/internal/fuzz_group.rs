//! The group fuzz targets: `group_message` (a group message against a fixed member),
//! `sender_key_distribution` (a distribution parsed and offered to that member) and
//! `group_state` (a stored group session). Part of [`super::fuzz`]; see there for the
//! conventions.

use std::sync::OnceLock;

use super::fuzz::{FuzzRng, Seed, flip, prefix};
use crate::error::GroupDecryptError;
use crate::group::{GroupId, GroupSession, SenderDevice, SenderKeyDistribution};

const NOW: u64 = 1_790_000_000;
const SENDER: SenderDevice = SenderDevice::from_bytes([0x53; 32]);
const MEMBER: SenderDevice = SenderDevice::from_bytes([0x4d; 32]);

struct GroupFixture {
    sender_state: Vec<u8>,
    member_state: Vec<u8>,
    distribution: Vec<u8>,
    messages: Vec<Vec<u8>>,
}

fn build() -> Option<GroupFixture> {
    let mut rng = FuzzRng::new(b"group");
    let group = GroupId::random(&mut rng);
    let mut sender = GroupSession::new(group, SENDER, NOW, &mut rng);
    let mut member = GroupSession::new(group, MEMBER, NOW, &mut rng);
    let distribution = sender.distribution();
    member.receive_distribution(SENDER, &distribution).ok()?;
    let messages = ["The trip is on Friday", "", "Bring a packed lunch"]
        .iter()
        .map(|text| sender.encrypt(text.as_bytes(), NOW).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(GroupFixture {
        sender_state: sender.to_bytes(),
        member_state: member.to_bytes(),
        distribution: distribution.to_bytes(),
        messages,
    })
}

fn fixture() -> Option<&'static GroupFixture> {
    static FIXTURE: OnceLock<Option<GroupFixture>> = OnceLock::new();
    FIXTURE.get_or_init(build).as_ref()
}

/// The fixed member's stored state (tests check the seeds against it).
#[cfg(test)]
pub(crate) fn fixed_member() -> Option<Vec<u8>> {
    fixture().map(|f| f.member_state.clone())
}

fn member() -> Option<GroupSession> {
    let loaded = GroupSession::from_bytes(&fixture()?.member_state);
    assert!(loaded.is_ok(), "the fixed member does not load");
    loaded.ok()
}

/// `group_message`: the input is a group message for the fixed member. A failure must
/// leave the member unchanged; a success must be refused as a duplicate the second time;
/// a batch of the input twice must give what two single decryptions give.
pub fn group_message(data: &[u8]) {
    let Some(mut member) = member() else {
        return;
    };
    let before = member.to_bytes();
    let first = member.decrypt(data);
    match &first {
        Ok(read) => {
            assert_eq!(read.sender, SENDER);
            assert_eq!(member.decrypt(data), Err(GroupDecryptError::Duplicate));
        }
        Err(_) => assert_eq!(member.to_bytes(), before),
    }
    let Some(mut batch) = self::member() else {
        return;
    };
    let results = batch.decrypt_batch(&[data, data]);
    assert_eq!(results.first(), Some(&first));
    assert_eq!(results.get(1), Some(&member.decrypt(data)));
}

/// `sender_key_distribution`: the input is a distribution. A parsed one re-encodes to
/// bytes that parse to the same encoding; offered to the fixed member as coming from
/// the fixed sender, it is taken or refused, and a refusal changes nothing.
pub fn sender_key_distribution(data: &[u8]) {
    let Ok(distribution) = SenderKeyDistribution::from_bytes(data) else {
        return;
    };
    let encoded = distribution.to_bytes();
    let again = SenderKeyDistribution::from_bytes(&encoded);
    assert_eq!(again.map(|d| d.to_bytes()).ok(), Some(encoded));
    let Some(mut member) = member() else {
        return;
    };
    let before = member.to_bytes();
    if member.receive_distribution(SENDER, &distribution).is_err() {
        assert_eq!(member.to_bytes(), before);
    }
    if let Some(fixture) = fixture()
        && let Some(message) = fixture.messages.first()
    {
        let _ = member.decrypt(message);
    }
}

/// `group_state`: the input is a stored group session. A loaded one re-encodes to bytes
/// that load to the same encoding, and it encrypts and decrypts without panicking.
pub fn group_state(data: &[u8]) {
    let Ok(mut session) = GroupSession::from_bytes(data) else {
        return;
    };
    let encoded = session.to_bytes();
    let again = GroupSession::from_bytes(&encoded);
    assert_eq!(again.map(|s| s.to_bytes()).ok(), Some(encoded));
    let _ = session.encrypt(b"fuzz", NOW);
    if let Some(fixture) = fixture() {
        for message in &fixture.messages {
            let _ = session.decrypt(message);
        }
    }
}

pub(crate) fn group_seeds() -> Vec<Seed> {
    let Some(f) = fixture() else {
        return Vec::new();
    };
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &'static str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name,
            bytes,
        });
    };
    let [m0, m1, m2] = [0, 1, 2].map(|i| f.messages.get(i).cloned().unwrap_or_default());
    add("group_message", "m0", m0.clone());
    add("group_message", "m1_empty", m1.clone());
    add("group_message", "m2_skips_m1", m2.clone());
    add("group_message", "m0_header_flipped", flip(&m0, 20));
    add("group_message", "m0_body_flipped", flip(&m0, 60));
    add("group_message", "m0_signature_flipped", flip(&m0, -1));
    add("group_message", "m0_truncated", prefix(&m0, 159));
    add("group_message", "empty", Vec::new());

    let d = &f.distribution;
    add("sender_key_distribution", "genuine", d.clone());
    add("sender_key_distribution", "flipped_binding", flip(d, -1));
    add("sender_key_distribution", "flipped_group", flip(d, 5));
    add(
        "sender_key_distribution",
        "truncated",
        prefix(d, d.len() / 2),
    );
    add("sender_key_distribution", "version_2", {
        let mut out = d.clone();
        if let Some(version) = out.get_mut(1) {
            *version = 2;
        }
        out
    });

    add("group_state", "sender", f.sender_state.clone());
    add("group_state", "member", f.member_state.clone());
    add(
        "group_state",
        "member_flipped",
        flip(
            &f.member_state,
            isize::try_from(f.member_state.len() / 2).unwrap_or(0),
        ),
    );
    add(
        "group_state",
        "sender_truncated",
        prefix(&f.sender_state, f.sender_state.len() / 3),
    );
    add("group_state", "empty", Vec::new());
    seeds
}
