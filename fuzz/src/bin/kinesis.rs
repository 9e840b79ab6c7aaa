//! Fuzz target: `weir_aws::fuzzing::kinesis` (see that function for what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weir_aws::fuzzing::kinesis(data);
});
