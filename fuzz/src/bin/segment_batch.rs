//! Fuzz target: `weir_storage::fuzzing::batch` (see that function for what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weir_storage::fuzzing::batch(data);
});
