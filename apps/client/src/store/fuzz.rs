//! Fuzz targets for the store's at-rest parsers: one function per `cargo fuzz` target in
//! `fuzz/fuzz_targets/`, shared with the seed replay in `tests/tests/fuzz_corpus.rs` so
//! both run exactly the same code (as `satchel_core::internal::fuzz` does for core).
//!
//! **Not API.** Every target takes arbitrary bytes and must never panic; a failing
//! `assert!` is a bug the fuzzer found. The keys, passphrase and context are fixed and
//! public, so the committed seeds (see [`seeds`]) open under them.
#![doc(hidden)]

use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::cipher::{CipherError, SEALED_OVERHEAD, SEALED_VERSION, StoreCipher, StoreKey};
use super::keyfile::{Argon2Params, KEY_FILE_LEN, KeyFile, KeyFileError, KeySource, SourceKind};

/// The fixed platform key the `key_file` target unlocks with.
pub const PLATFORM_KEY: [u8; 32] = [0x50; 32];
/// The fixed passphrase the `key_file` target unlocks with (only under cheap parameters).
pub const PASSPHRASE: &str = "satchel fuzz passphrase";
/// The fixed store key of the `store_value` target.
pub const STORE_KEY: [u8; 32] = [0x53; 32];
/// The fixed context (column and row) the `store_value` target opens and seals under.
pub const CONTEXT: &[u8] = b"messages.body\x00fuzz row";
/// Another context: a value that opens under [`CONTEXT`] must not open under it.
const OTHER_CONTEXT: &[u8] = b"messages.body\x00fuzz row 2";
/// The most Argon2id work (memory in KiB times passes) the `key_file` target spends on
/// one input. A parsed passphrase file may ask for up to 1 GiB and 10 passes, and the
/// default is 64 MiB and 3 passes (about a quarter of a second), far too slow per input;
/// 256 KiB-passes is well under a millisecond.
const CHEAP_ARGON2_WORK: u64 = 256;
/// Argon2id parameters cheap enough for the `key_file` target to unlock with.
pub const CHEAP_PARAMS: Argon2Params = Argon2Params {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

fn platform() -> KeySource {
    KeySource::Platform(Zeroizing::new(PLATFORM_KEY))
}

fn passphrase(text: &str) -> KeySource {
    KeySource::Passphrase(Zeroizing::new(text.to_owned()))
}

fn is_cheap(params: Argon2Params) -> bool {
    u64::from(params.m_cost_kib) * u64::from(params.t_cost) <= CHEAP_ARGON2_WORK
}

/// `key_file`: [`KeyFile::from_bytes`]; a parsed file is exactly its bytes, is refused by
/// a source of the other kind and by an empty passphrase before any derivation, and is
/// unlocked with [`PLATFORM_KEY`] or (only if its Argon2id parameters are cheap, see
/// `CHEAP_ARGON2_WORK`) with [`PASSPHRASE`]. A file that unlocks rewraps under the same
/// source to a file that parses and unlocks to the same secret; one that does not is
/// refused as a wrong key, nothing else.
pub fn key_file(data: &[u8]) {
    let Ok(file) = KeyFile::from_bytes(data) else {
        return;
    };
    let bytes = file.to_bytes();
    assert_eq!(
        bytes.as_slice(),
        data,
        "a parsed key file re-encodes differently"
    );
    assert_eq!(data.len(), KEY_FILE_LEN);
    assert!(KeyFile::from_bytes(&bytes).is_ok_and(|again| again == file));
    if file.kind() == SourceKind::Passphrase {
        assert!(file.params().check().is_ok());
    } else {
        assert_eq!(
            file.params(),
            Argon2Params {
                m_cost_kib: 0,
                t_cost: 0,
                p_cost: 0
            }
        );
    }

    let platform = platform();
    let passphrase = passphrase(PASSPHRASE);
    let empty = self::passphrase("");
    for source in [&platform, &passphrase, &empty] {
        if source.kind() != file.kind() {
            assert_eq!(
                file.unlock(source).err(),
                Some(KeyFileError::SourceMismatch {
                    file: file.kind(),
                    given: source.kind(),
                })
            );
        }
    }
    match file.kind() {
        SourceKind::Platform => unlock(&file, &platform),
        SourceKind::Passphrase => {
            assert_eq!(
                file.unlock(&empty).err(),
                Some(KeyFileError::EmptyPassphrase)
            );
            if is_cheap(file.params()) {
                unlock(&file, &passphrase);
            }
        }
    }
}

fn unlock(file: &KeyFile, source: &KeySource) {
    match file.unwrap_secret(source) {
        Ok(secret) => {
            assert!(
                file.unlock(source)
                    .is_ok_and(|key| key.as_bytes() == &*secret)
            );
            let rewrapped = file.rewrap_with_params(source, source, file.params());
            assert!(
                rewrapped.is_ok(),
                "rewrapping an unlocked key file failed: {rewrapped:?}"
            );
            let Ok(rewrapped) = rewrapped else {
                return;
            };
            assert!(
                rewrapped.to_bytes() != file.to_bytes(),
                "rewrap kept salt and nonce"
            );
            assert!(
                KeyFile::from_bytes(&rewrapped.to_bytes()).is_ok_and(|parsed| parsed == rewrapped)
            );
            assert!(
                rewrapped
                    .unwrap_secret(source)
                    .is_ok_and(|again| *again == *secret)
            );
        }
        Err(error) => assert!(
            matches!(
                error,
                KeyFileError::WrongPlatformKey | KeyFileError::WrongPassphrase
            ),
            "unexpected unlock error {error:?}"
        ),
    }
}

fn cipher() -> &'static StoreCipher {
    static CIPHER: OnceLock<StoreCipher> = OnceLock::new();
    CIPHER.get_or_init(|| StoreCipher::new(&StoreKey::from_bytes(STORE_KEY)))
}

/// `store_value`: [`StoreCipher::open`] of the input under [`STORE_KEY`] and
/// [`CONTEXT`]: each error must match the input's length and version byte, and a value
/// that opens must not open under another context. Then a round trip: the input sealed
/// under [`CONTEXT`] opens to itself.
pub fn store_value(data: &[u8]) {
    let cipher = cipher();
    let opened = cipher.open(CONTEXT, data);
    assert!(
        matches!(
            opened,
            Ok(_)
                | Err(CipherError::Truncated { .. }
                    | CipherError::UnknownVersion { .. }
                    | CipherError::Damaged)
        ),
        "unexpected open error {opened:?}"
    );
    match opened {
        Ok(plaintext) => {
            assert_eq!(plaintext.len() + SEALED_OVERHEAD, data.len());
            assert_eq!(
                cipher.open(OTHER_CONTEXT, data).err(),
                Some(CipherError::Damaged)
            );
        }
        Err(CipherError::Truncated { len }) => {
            assert_eq!(len, data.len());
            assert!(len < SEALED_OVERHEAD);
            assert!(data.first().is_none_or(|&v| v == SEALED_VERSION));
        }
        Err(CipherError::UnknownVersion { version }) => {
            assert_eq!(data.first(), Some(&version));
            assert_ne!(version, SEALED_VERSION);
        }
        Err(CipherError::Damaged) => {
            assert!(data.len() >= SEALED_OVERHEAD);
            assert_eq!(data.first(), Some(&SEALED_VERSION));
        }
        Err(_) => {}
    }
    assert_eq!(
        cipher.verify_key_check(data).is_ok(),
        data == cipher.key_check()
    );

    let sealed = cipher.seal(CONTEXT, data);
    assert!(sealed.is_ok(), "sealing failed: {sealed:?}");
    let Ok(sealed) = sealed else {
        return;
    };
    assert_eq!(sealed.len(), data.len() + SEALED_OVERHEAD);
    assert_eq!(sealed.first(), Some(&SEALED_VERSION));
    assert!(
        cipher
            .open(CONTEXT, &sealed)
            .is_ok_and(|opened| opened.as_slice() == data),
        "a sealed value does not open to itself"
    );
}

/// One seed input for one target (the same shape as core's seeds).
pub use satchel_core::internal::fuzz::Seed;

/// `group_record`: the input is a stored group record (decrypted). A record that loads
/// re-encodes to bytes that load to the same encoding.
pub fn group_record(data: &[u8]) {
    let Ok(record) = crate::groups::GroupRecord::decode(data) else {
        return;
    };
    let encoded = record.encode();
    let again = crate::groups::GroupRecord::decode(&encoded);
    assert!(again.is_ok(), "a re-encoded group record does not load");
    if let Ok(again) = again {
        assert_eq!(*again.encode(), *encoded);
    }
}

/// A group record as the client stores it, from a fixed generator.
fn sample_group_record() -> Vec<u8> {
    use satchel_core::group::{GroupId, GroupSession, SenderDevice};
    let mut rng = satchel_core::internal::fuzz::FuzzRng::new(b"group record");
    let id = GroupId::random(&mut rng);
    let member = crate::groups::MemberDevice {
        account_id: [1; 16],
        account_key: [2; 32],
        device_key: [3; 32],
    };
    let mut record = crate::groups::GroupRecord::new(
        id,
        crate::groups::GroupKind::ClassGroup,
        [1; 16],
        [2; 32],
        SenderDevice::from_bytes([3; 32]),
        1_790_000_000,
    );
    // The sender key from the fixed generator, so the seed is the same every time.
    record.session = GroupSession::new(
        id,
        SenderDevice::from_bytes([3; 32]),
        1_790_000_000,
        &mut rng,
    );
    record.title = "Class 5B".into();
    record.class_name = "5B".into();
    record.epoch = 3;
    record.members = vec![member];
    record.senders = vec![crate::groups::KnownSender {
        device_key: [4; 32],
        device_certificate: vec![9; 40],
        member_certificate: Some(vec![8; 20]),
    }];
    record.distributed_to = vec![[4; 32]];
    record.encode().to_vec()
}

/// The seed corpus: real key files and sealed values under the fixed keys, and
/// truncated, bit-flipped and misdirected variants. Not deterministic (salts and nonces
/// are random), but every call gives the same kinds of seed. Empty only if the
/// operating system's random number generator fails.
#[must_use]
pub fn seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &'static str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name,
            bytes,
        });
    };
    let prefix = |bytes: &[u8], len: usize| bytes.get(..len).unwrap_or(bytes).to_vec();
    let flip = |bytes: &[u8], at: usize| {
        let mut out = bytes.to_vec();
        if let Some(byte) = out.get_mut(at) {
            *byte ^= 0x01;
        }
        out
    };

    // key_file
    let Ok((file, _)) = KeyFile::create(&platform()) else {
        return Vec::new();
    };
    let platform_file = file.to_bytes();
    let Ok((other, _)) = KeyFile::create(&KeySource::Platform(Zeroizing::new([0x51; 32]))) else {
        return Vec::new();
    };
    let Ok((cheap, _)) = KeyFile::create_with_params(&passphrase(PASSPHRASE), CHEAP_PARAMS) else {
        return Vec::new();
    };
    let cheap = cheap.to_bytes();
    let mut default_params = cheap;
    if let Some(params) = default_params.get_mut(12..24) {
        let [m, t, p] = [
            Argon2Params::DEFAULT.m_cost_kib,
            Argon2Params::DEFAULT.t_cost,
            Argon2Params::DEFAULT.p_cost,
        ]
        .map(u32::to_be_bytes);
        params.copy_from_slice(&[m, t, p].concat());
    }
    add("key_file", "platform", platform_file.to_vec());
    add("key_file", "platform_other_key", other.to_bytes().to_vec());
    add(
        "key_file",
        "platform_tag_flipped",
        flip(&platform_file, 111),
    );
    add(
        "key_file",
        "platform_salt_flipped",
        flip(&platform_file, 24),
    );
    add("key_file", "platform_kind_byte", flip(&platform_file, 11));
    add(
        "key_file",
        "platform_long",
        [platform_file.as_slice(), &[0]].concat(),
    );
    for (name, len) in [
        ("platform_cut_0", 0),
        ("platform_cut_10", 10),
        ("platform_cut_12", 12),
        ("platform_cut_40", 40),
        ("platform_cut_64", 64),
        ("platform_cut_111", 111),
    ] {
        add("key_file", name, prefix(&platform_file, len));
    }
    add("key_file", "passphrase_cheap", cheap.to_vec());
    add(
        "key_file",
        "passphrase_cheap_tag_flipped",
        flip(&cheap, 111),
    );
    add(
        "key_file",
        "passphrase_default_params",
        default_params.to_vec(),
    );

    // store_value
    let cipher = cipher();
    let sealed = |plaintext: &[u8], context: &[u8]| cipher.seal(context, plaintext).ok();
    let (Some(empty), Some(short), Some(long), Some(elsewhere)) = (
        sealed(b"", CONTEXT),
        sealed(b"Trip on Friday: 9:00 at the gate.", CONTEXT),
        sealed(&[0xA5; 300], CONTEXT),
        sealed(b"moved from another row", OTHER_CONTEXT),
    ) else {
        return Vec::new();
    };
    add("store_value", "empty", empty.clone());
    add("store_value", "short", short.clone());
    add("store_value", "long", long);
    add("store_value", "other_context", elsewhere);
    add(
        "store_value",
        "short_tag_flipped",
        flip(&short, short.len() - 1),
    );
    add("store_value", "short_nonce_flipped", flip(&short, 5));
    add("store_value", "short_version_0", flip(&short, 0));
    add(
        "store_value",
        "empty_cut_40",
        prefix(&empty, SEALED_OVERHEAD - 1),
    );
    add("store_value", "version_only", vec![SEALED_VERSION]);
    add("store_value", "key_check", cipher.key_check().to_vec());

    // group_record
    let record = sample_group_record();
    add("group_record", "class_group", record.clone());
    add("group_record", "flipped", flip(&record, record.len() / 2));
    add(
        "group_record",
        "truncated",
        prefix(&record, record.len() / 3),
    );
    add("group_record", "empty", Vec::new());
    add("group_record", "kind_9", {
        let mut out = record.clone();
        // Field 2 (kind) follows the 18-byte id field: tag 0x10, value.
        if let Some(kind) = out.get_mut(19) {
            *kind = 9;
        }
        out
    });
    seeds
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    type Target = fn(&[u8]);

    const TARGETS: [(&str, Target); 3] = [
        ("key_file", key_file),
        ("store_value", store_value),
        ("group_record", group_record),
    ];

    #[test]
    fn seeds_cover_every_target_and_run_clean() {
        let seeds = seeds();
        for (target, run) in TARGETS {
            let mine: Vec<_> = seeds.iter().filter(|s| s.target == target).collect();
            assert!(mine.len() >= 5, "{target}: {} seeds", mine.len());
            for seed in mine {
                run(&seed.bytes);
            }
        }
        assert!(
            seeds
                .iter()
                .all(|s| TARGETS.iter().any(|(t, _)| *t == s.target))
        );
    }

    /// The committed seeds (not only fresh ones) reach the unlock and the decryption.
    #[test]
    fn genuine_seeds_open() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
        let fresh = seeds();
        let get = |target: &str, name: &str| {
            let fresh = fresh
                .iter()
                .find(|s| s.target == target && s.name == name)
                .map(|s| s.bytes.clone())
                .expect(name);
            let committed = std::fs::read(root.join(target).join(name)).expect(name);
            [fresh, committed]
        };
        for bytes in get("key_file", "platform") {
            let file = KeyFile::from_bytes(&bytes).unwrap();
            assert!(file.unlock(&platform()).is_ok());
        }
        for bytes in get("key_file", "passphrase_cheap") {
            let file = KeyFile::from_bytes(&bytes).unwrap();
            assert!(is_cheap(file.params()));
            assert!(file.unlock(&passphrase(PASSPHRASE)).is_ok());
        }
        for bytes in get("key_file", "passphrase_default_params") {
            let file = KeyFile::from_bytes(&bytes).unwrap();
            assert_eq!(file.params(), Argon2Params::DEFAULT);
            assert!(!is_cheap(file.params()));
        }
        for name in ["empty", "short", "long"] {
            for bytes in get("store_value", name) {
                assert!(cipher().open(CONTEXT, &bytes).is_ok(), "{name}");
            }
        }
        for bytes in get("store_value", "other_context") {
            assert!(cipher().open(OTHER_CONTEXT, &bytes).is_ok());
        }
    }

    /// Regenerates `fuzz/seeds/key_file/` and `fuzz/seeds/store_value/` (run once, then
    /// commit the files):
    /// `cargo test -p satchel-client --lib store::fuzz::tests::write_seeds -- --ignored`
    #[test]
    #[ignore = "writes fuzz/seeds/"]
    fn write_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
        for seed in seeds() {
            let dir = root.join(seed.target);
            std::fs::create_dir_all(&dir).expect("create seeds dir");
            std::fs::write(dir.join(seed.name), &seed.bytes).expect("write seed");
        }
    }
}
