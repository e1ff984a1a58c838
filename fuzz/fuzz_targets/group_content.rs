#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    satchel_client::group_fuzz::group_content(data);
});
