#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    satchel_core::internal::fuzz::group_state(data);
});
