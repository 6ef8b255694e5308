//! libFuzzer target: the protox path on protos mutated at the token level.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = rust_stream_fuzz::protox_case(data) {
        panic!("{finding}");
    }
});
