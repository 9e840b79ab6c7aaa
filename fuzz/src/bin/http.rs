//! Fuzz target: `weir_aws::fuzzing::http` (see that function for what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weir_aws::fuzzing::http(data);
});
