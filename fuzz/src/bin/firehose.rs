//! Fuzz target: `weir_aws::fuzzing::firehose` (see that function for what it checks).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        weir_aws::fuzzing::firehose(data);
    });
}
