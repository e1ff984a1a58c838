#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    satchel_client::store::fuzz::store_value(data);
});
