//! Replays the fuzz seeds (`fuzz/seeds/<target>/`, committed) and any local corpus
//! (`fuzz/corpus/<target>/`, gitignored, may be missing) through the same functions the
//! `cargo fuzz` targets call, so every seed runs in plain `cargo test` on stable: core's
//! parsers (`satchel_core::internal::fuzz`) and the client store's at-rest parsers
//! (`satchel_client::store::fuzz`).

use std::fs;
use std::path::{Path, PathBuf};

use satchel_client::store::fuzz as client_fuzz;
use satchel_core::internal::fuzz;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 17] = [
    ("school", fuzz::school),
    ("group_message", fuzz::group_message),
    ("sender_key_distribution", fuzz::sender_key_distribution),
    ("group_state", fuzz::group_state),
    ("queue_envelope", fuzz::queue_envelope),
    ("sealed_envelope", fuzz::sealed_envelope),
    ("sealed_content", fuzz::sealed_content),
    ("header", fuzz::header),
    ("ratchet_message", fuzz::ratchet_message),
    ("session_frame", fuzz::session_frame),
    ("prekey_bundle", fuzz::prekey_bundle),
    ("one_time_prekey", fuzz::one_time_prekey),
    ("persisted_state", fuzz::persisted_state),
    ("key_file", client_fuzz::key_file),
    ("store_value", client_fuzz::store_value),
    ("group_record", client_fuzz::group_record),
    ("group_content", satchel_client::group_fuzz::group_content),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir`, sorted; empty if `dir` does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read corpus directory").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: Target, paths: &[PathBuf]) {
    for path in paths {
        println!("{target}: {}", path.display());
        let data = fs::read(path).expect("read corpus file");
        run(&data);
    }
}

#[test]
fn seeds_replay_without_panics() {
    for (target, run) in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(target));
        assert!(
            !seeds.is_empty(),
            "no seeds for fuzz target {target} in fuzz/seeds/{target}/"
        );
        replay(target, run, &seeds);
    }
}

#[test]
fn local_corpus_replays_without_panics() {
    for (target, run) in TARGETS {
        replay(target, run, &files(&fuzz_dir().join("corpus").join(target)));
    }
}

#[test]
fn every_fuzz_target_is_replayed() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "satchel-fuzz")
        .collect();
    let mut replayed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort_unstable();
    replayed.sort_unstable();
    assert_eq!(declared_sorted, replayed);
}

#[test]
fn generated_seeds_replay_without_panics() {
    // The in-memory seeds, in case the committed ones went stale after a protocol change.
    let seeds = fuzz::seeds();
    assert!(!seeds.is_empty(), "the fuzzing conversation failed");
    let client_seeds = client_fuzz::seeds();
    assert!(!client_seeds.is_empty(), "making the client's seeds failed");
    let seeds = seeds
        .into_iter()
        .map(|seed| (seed.target, seed.name, seed.bytes))
        .chain(
            client_seeds
                .into_iter()
                .chain(satchel_client::group_fuzz::group_content_seeds())
                .map(|seed| (seed.target, seed.name, seed.bytes)),
        );
    for (target, name, bytes) in seeds {
        let (_, run) = TARGETS
            .iter()
            .find(|(known, _)| *known == target)
            .expect("seed for an unknown target");
        println!("{target}: generated {name}");
        run(&bytes);
    }
}
