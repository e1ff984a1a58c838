//! The Rust side of the binding-overhead measurement (`ffi/bench.sh`): encrypt + decrypt
//! of a 100-byte message in steady state through the same `satchel-ffi` objects the
//! bindings call (owned `Vec<u8>` in and out, the session locks), single and in batches
//! of 100. The Kotlin figure minus this one is the cost of crossing the language
//! boundary.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use satchel_ffi::Account;

fn bench(c: &mut Criterion) {
    let teacher = Account::new();
    let parent = Account::new();
    let to_parent = teacher.start_session(parent.prekey_bundle()).unwrap();
    let first = to_parent.encrypt(b"hello".to_vec()).unwrap();
    let to_teacher = parent.accept_session(first).unwrap().session;
    to_parent
        .decrypt(to_teacher.encrypt(b"hi".to_vec()).unwrap())
        .unwrap();
    let message = vec![7u8; 100];

    let mut group = c.benchmark_group("ffi_rust");
    group.throughput(Throughput::Elements(1));
    group.bench_function("roundtrip_100", |b| {
        b.iter(|| {
            to_teacher
                .decrypt(to_parent.encrypt(message.clone()).unwrap())
                .unwrap()
        });
    });
    group.throughput(Throughput::Elements(100));
    let batch = vec![message.clone(); 100];
    group.bench_function("roundtrip_100_batch100", |b| {
        b.iter(|| to_teacher.decrypt_batch(to_parent.encrypt_batch(batch.clone()).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
