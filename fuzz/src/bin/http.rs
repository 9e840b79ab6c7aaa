//! Fuzz target: `weir_aws::fuzzing::http` (see that function for what it checks).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        weir_aws::fuzzing::http(data);
    });
}
