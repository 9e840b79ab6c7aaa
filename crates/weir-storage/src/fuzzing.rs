//! Entry points for the fuzz targets in `fuzz/` (and their regression corpus, replayed by
//! `cargo test`). Not part of the API.

/// Decodes arbitrary bytes as a segment batch: an error or records, never a panic. Byte 0 odd
/// patches the checksum first, so that inputs reach the record decoder.
pub fn batch(data: &[u8]) {
    let [mode, rest @ ..] = data else { return };
    if let Ok((header, records)) = crate::log::fuzz_decode_batch(rest, mode % 2 == 1) {
        assert_eq!(records.len() as u64, header);
        for w in records.windows(2) {
            assert_eq!(w[0].offset + 1, w[1].offset, "offsets are contiguous");
        }
    }
}
