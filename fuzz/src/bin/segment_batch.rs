//! Fuzz target: `weir_storage::fuzzing::batch` (see that function for what it checks).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        weir_storage::fuzzing::batch(data);
    });
}
