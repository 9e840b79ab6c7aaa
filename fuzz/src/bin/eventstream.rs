//! Fuzz target: `weir_aws::fuzzing::eventstream` (see that function for what it checks).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        weir_aws::fuzzing::eventstream(data);
    });
}
