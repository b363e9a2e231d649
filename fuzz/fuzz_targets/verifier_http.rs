#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| liveproof_fuzz_targets::verifier_http(data));
