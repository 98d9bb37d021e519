#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lanchat_fuzz::websocket(data));
