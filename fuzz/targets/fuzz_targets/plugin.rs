//! libFuzzer target: the protoc plugin on requests mutated at the descriptor level.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = rust_stream_fuzz::plugin_case(data) {
        panic!("{finding}");
    }
});
