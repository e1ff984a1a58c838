#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    satchel_client::store::fuzz::group_record(data);
});
