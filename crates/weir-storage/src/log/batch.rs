//! The batch codec: the only bytes of a segment file.
//!
//! A segment is a plain sequence of batches; one `append` is one batch. All integers are
//! little-endian.
//!
//! ```text
//! header (44 bytes)
//!   0  magic         4   b"WEIR"
//!   4  version       1   FORMAT_VERSION (1)
//!   5  flags         1   0 (reserved; a reader rejects unknown bits)
//!   6  reserved      2   0
//!   8  crc32c        4   over payload ‖ header[4..8] ‖ header[12..44]
//!  12  base_offset   8   offset of the first record
//!  20  record_count  4   > 0
//!  24  first_millis  8   arrival of the first record
//!  32  last_millis   8   arrival of the last record (>= first)
//!  40  payload_len   4   bytes of records that follow
//! record (repeated record_count times, exactly filling payload_len)
//!   arrival_delta u32    arrival - first_millis
//!   flags         u8     bit 0: an explicit hash key follows the partition key
//!   key_len       u16    then key_len bytes of UTF-8 partition key
//!   [hash_key     u128]
//!   data_len      u32    then data_len bytes of data
//! ```
//!
//! The CRC covers the payload *first* so that the writer can checksum the records outside the
//! shard lock and only fold in the 36 header bytes (offset and arrival time, assigned under the
//! lock) afterwards. Every field a reader trusts is covered by the CRC or checked by value (the
//! magic), so any corruption or truncation is reported, never returned as data. A header of
//! zeros is "end of data", which is what a preallocated or torn-at-extension tail looks like.

use crate::{RecordIn, StoredRecord};
use bytes::Bytes;

pub(crate) const MAGIC: [u8; 4] = *b"WEIR";
pub(crate) const FORMAT_VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 44;
/// The largest payload one batch may carry. Kinesis caps a PutRecords call at 5 MiB; this bound
/// only protects readers from allocating on the word of a corrupt length.
pub(crate) const MAX_PAYLOAD: usize = 256 << 20;

const FLAG_HASH_KEY: u8 = 1;

/// Why bytes are not a valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Fewer bytes than the header says there are: a torn write at the tail of a file.
    Truncated,
    /// The header is all zeros: the end of written data.
    Zeros,
    /// Anything else: a checksum mismatch, a bad magic or version, malformed records.
    Corrupt(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated batch"),
            DecodeError::Zeros => f.write_str("zero-filled header"),
            DecodeError::Corrupt(d) => f.write_str(d),
        }
    }
}

fn corrupt(detail: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt(detail.into())
}

/// The decoded fixed header of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub crc: u32,
    pub base_offset: u64,
    pub record_count: u32,
    pub first_millis: i64,
    pub last_millis: i64,
    pub payload_len: u32,
}

impl BatchHeader {
    /// Total bytes of the batch on disk.
    pub fn batch_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.payload_len)
    }

    /// One past the last offset of the batch.
    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }

    /// Parses and sanity-checks a header (the CRC is checked by [`verify`] with the payload).
    pub fn parse(h: &[u8]) -> Result<BatchHeader, DecodeError> {
        if h.len() < HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        let h = &h[..HEADER_LEN];
        if h.iter().all(|&b| b == 0) {
            return Err(DecodeError::Zeros);
        }
        if h[0..4] != MAGIC {
            return Err(corrupt("bad batch magic"));
        }
        if h[4] != FORMAT_VERSION {
            return Err(corrupt(format!(
                "unsupported batch format version {}",
                h[4]
            )));
        }
        if h[5] != 0 || h[6] != 0 || h[7] != 0 {
            return Err(corrupt("unknown batch flags"));
        }
        let header = BatchHeader {
            crc: u32_at(h, 8),
            base_offset: u64_at(h, 12),
            record_count: u32_at(h, 20),
            first_millis: u64_at(h, 24) as i64,
            last_millis: u64_at(h, 32) as i64,
            payload_len: u32_at(h, 40),
        };
        if header.record_count == 0 {
            return Err(corrupt("batch with no records"));
        }
        if header.last_millis < header.first_millis {
            return Err(corrupt("batch arrival times go backwards"));
        }
        if header.payload_len as usize > MAX_PAYLOAD {
            return Err(corrupt("batch payload length out of range"));
        }
        if header
            .base_offset
            .checked_add(u64::from(header.record_count))
            .is_none()
        {
            return Err(corrupt("batch offsets overflow"));
        }
        Ok(header)
    }
}

/// Checks the CRC of a parsed header against its raw bytes and payload.
pub(crate) fn verify(
    header: &BatchHeader,
    raw_header: &[u8],
    payload: &[u8],
) -> Result<(), DecodeError> {
    if payload.len() < header.payload_len as usize || raw_header.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    let payload = &payload[..header.payload_len as usize];
    let crc = finish_crc(crc32c::crc32c(payload), raw_header);
    if crc != header.crc {
        return Err(corrupt("batch checksum mismatch"));
    }
    Ok(())
}

/// Rewrites the CRC field of a would-be batch so it verifies (fuzzing reaches record parsing).
pub(crate) fn fix_crc(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let payload_len = (u32_at(bytes, 40) as usize).min(bytes.len() - HEADER_LEN);
    let crc = finish_crc(
        crc32c::crc32c(&bytes[HEADER_LEN..HEADER_LEN + payload_len]),
        bytes,
    );
    bytes[8..12].copy_from_slice(&crc.to_le_bytes());
}

fn finish_crc(payload_crc: u32, raw_header: &[u8]) -> u32 {
    let crc = crc32c::crc32c_append(payload_crc, &raw_header[4..8]);
    crc32c::crc32c_append(crc, &raw_header[12..HEADER_LEN])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// A batch whose payload is encoded but whose offset and arrival time are not yet assigned.
///
/// `buf` holds `HEADER_LEN` placeholder bytes followed by the payload; [`EncodedBatch::seal`]
/// fills in the header once the shard lock is held.
pub(crate) struct EncodedBatch<'a> {
    pub buf: &'a mut Vec<u8>,
    pub record_count: u32,
    payload_crc: u32,
}

/// Encodes the records of one append into `buf` (cleared first). All records of a batch share
/// one arrival time, so the payload does not depend on it.
pub(crate) fn encode_payload<'a>(
    buf: &'a mut Vec<u8>,
    records: &[RecordIn<'_>],
) -> Result<EncodedBatch<'a>, String> {
    if records.is_empty() {
        return Err("an append needs at least one record".into());
    }
    let record_count =
        u32::try_from(records.len()).map_err(|_| "too many records in one append".to_string())?;
    let payload_len: usize = records
        .iter()
        .map(|r| {
            11 + r.partition_key.len()
                + r.data.len()
                + if r.explicit_hash_key.is_some() { 16 } else { 0 }
        })
        .sum();
    if payload_len > MAX_PAYLOAD {
        return Err(format!(
            "append of {payload_len} bytes exceeds the {MAX_PAYLOAD}-byte batch limit"
        ));
    }
    buf.clear();
    buf.reserve(HEADER_LEN + payload_len);
    buf.resize(HEADER_LEN, 0);
    for r in records {
        let key_len = u16::try_from(r.partition_key.len())
            .map_err(|_| "partition key longer than 65535 bytes".to_string())?;
        let data_len =
            u32::try_from(r.data.len()).map_err(|_| "record data too large".to_string())?;
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.push(if r.explicit_hash_key.is_some() {
            FLAG_HASH_KEY
        } else {
            0
        });
        buf.extend_from_slice(&key_len.to_le_bytes());
        buf.extend_from_slice(r.partition_key.as_bytes());
        if let Some(h) = r.explicit_hash_key {
            buf.extend_from_slice(&h.to_le_bytes());
        }
        buf.extend_from_slice(&data_len.to_le_bytes());
        buf.extend_from_slice(r.data);
    }
    let payload_crc = crc32c::crc32c(&buf[HEADER_LEN..]);
    Ok(EncodedBatch {
        buf,
        record_count,
        payload_crc,
    })
}

impl EncodedBatch<'_> {
    /// Fills in the header for the assigned offset and arrival time; `buf` is then the batch.
    pub fn seal(&mut self, base_offset: u64, arrival_millis: i64) {
        let payload_len = (self.buf.len() - HEADER_LEN) as u32;
        let h = &mut self.buf[..HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_VERSION;
        h[5..8].fill(0);
        h[12..20].copy_from_slice(&base_offset.to_le_bytes());
        h[20..24].copy_from_slice(&self.record_count.to_le_bytes());
        h[24..32].copy_from_slice(&arrival_millis.to_le_bytes());
        h[32..40].copy_from_slice(&arrival_millis.to_le_bytes());
        h[40..44].copy_from_slice(&payload_len.to_le_bytes());
        let crc = finish_crc(self.payload_crc, h);
        h[8..12].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Walks the records of a verified payload. `payload` must be exactly the batch's payload; the
/// walk fails (rather than guessing) on any inconsistency with the header.
pub(crate) struct RecordIter<'a> {
    header: &'a BatchHeader,
    payload: &'a Bytes,
    pos: usize,
    next: u32,
}

pub(crate) fn records<'a>(header: &'a BatchHeader, payload: &'a Bytes) -> RecordIter<'a> {
    RecordIter {
        header,
        payload,
        pos: 0,
        next: 0,
    }
}

/// One decoded record without its copies made: `data` is a slice of the payload.
pub(crate) struct RecordView<'a> {
    pub offset: u64,
    pub arrival_millis: i64,
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<u128>,
    data: (usize, usize),
    payload: &'a Bytes,
}

impl RecordView<'_> {
    pub fn billed_len(&self) -> usize {
        self.partition_key.len() + (self.data.1 - self.data.0)
    }
    pub fn to_stored(&self) -> StoredRecord {
        StoredRecord {
            offset: self.offset,
            arrival_millis: self.arrival_millis,
            partition_key: self.partition_key.to_string(),
            explicit_hash_key: self.explicit_hash_key,
            data: self.payload.slice(self.data.0..self.data.1),
        }
    }
}

impl<'a> RecordIter<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let payload: &'a [u8] = self.payload;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= payload.len())
            .ok_or_else(|| corrupt("record runs past its batch"))?;
        let s = &payload[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn decode_one(&mut self) -> Result<RecordView<'a>, DecodeError> {
        let delta = u32_at(self.take(4)?, 0);
        let flags = self.take(1)?[0];
        if flags & !FLAG_HASH_KEY != 0 {
            return Err(corrupt("unknown record flags"));
        }
        let key_len = {
            let b = self.take(2)?;
            u16::from_le_bytes([b[0], b[1]]) as usize
        };
        let key = std::str::from_utf8(self.take(key_len)?)
            .map_err(|_| corrupt("partition key is not UTF-8"))?;
        let explicit_hash_key = if flags & FLAG_HASH_KEY != 0 {
            let mut b = [0u8; 16];
            b.copy_from_slice(self.take(16)?);
            Some(u128::from_le_bytes(b))
        } else {
            None
        };
        let data_len = u32_at(self.take(4)?, 0) as usize;
        let start = self.pos;
        self.take(data_len)?;
        let arrival_millis = self
            .header
            .first_millis
            .checked_add(i64::from(delta))
            .filter(|&a| a <= self.header.last_millis)
            .ok_or_else(|| corrupt("record arrival outside its batch"))?;
        let offset = self.header.base_offset + u64::from(self.next);
        self.next += 1;
        Ok(RecordView {
            offset,
            arrival_millis,
            partition_key: key,
            explicit_hash_key,
            data: (start, self.pos),
            payload: self.payload,
        })
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.header.record_count {
            if self.pos != self.payload.len() {
                self.pos = self.payload.len();
                return Some(Err(corrupt("trailing bytes after the last record")));
            }
            return None;
        }
        match self.decode_one() {
            Ok(r) => Some(Ok(r)),
            Err(e) => {
                self.next = self.header.record_count;
                self.pos = self.payload.len();
                Some(Err(e))
            }
        }
    }
}

/// Decodes one whole batch from `bytes` (header + payload, nothing after): used by the property
/// tests and the fuzz targets.
pub(crate) fn decode_batch(bytes: &Bytes) -> Result<(BatchHeader, Vec<StoredRecord>), DecodeError> {
    let header = BatchHeader::parse(bytes)?;
    let total = header.batch_len() as usize;
    if bytes.len() < total {
        return Err(DecodeError::Truncated);
    }
    if bytes.len() > total {
        return Err(corrupt("bytes after the batch"));
    }
    let payload = bytes.slice(HEADER_LEN..total);
    verify(&header, bytes, &payload)?;
    let records = records(&header, &payload)
        .map(|r| r.map(|v| v.to_stored()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((header, records))
}

/// Checks that a verified payload's records are well formed, without copying them.
pub(crate) fn validate_records(header: &BatchHeader, payload: &Bytes) -> Result<(), DecodeError> {
    for r in records(header, payload) {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Rec {
        key: String,
        hash: Option<u128>,
        data: Vec<u8>,
    }

    fn rec() -> impl Strategy<Value = Rec> {
        (
            "[a-zA-Z0-9é]{0,20}",
            proptest::option::of(any::<u128>()),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(key, hash, data)| Rec { key, hash, data })
    }

    fn encode(recs: &[Rec], base: u64, arrival: i64) -> Bytes {
        let ins: Vec<RecordIn<'_>> = recs
            .iter()
            .map(|r| RecordIn {
                partition_key: &r.key,
                explicit_hash_key: r.hash,
                data: &r.data,
            })
            .collect();
        let mut buf = Vec::new();
        let mut b = encode_payload(&mut buf, &ins).expect("encodes");
        b.seal(base, arrival);
        Bytes::from(buf)
    }

    proptest! {
        #[test]
        fn round_trip(recs in proptest::collection::vec(rec(), 1..8), base in 0u64..1 << 60, arrival in any::<i64>()) {
            let bytes = encode(&recs, base, arrival);
            let (h, out) = decode_batch(&bytes).expect("decodes");
            prop_assert_eq!(h.base_offset, base);
            prop_assert_eq!(h.record_count as usize, recs.len());
            prop_assert_eq!(out.len(), recs.len());
            for (i, (r, o)) in recs.iter().zip(&out).enumerate() {
                prop_assert_eq!(o.offset, base + i as u64);
                prop_assert_eq!(o.arrival_millis, arrival);
                prop_assert_eq!(&o.partition_key, &r.key);
                prop_assert_eq!(o.explicit_hash_key, r.hash);
                prop_assert_eq!(&o.data[..], &r.data[..]);
            }
        }

        #[test]
        fn any_single_byte_corruption_is_detected(
            recs in proptest::collection::vec(rec(), 1..5),
            pos in any::<prop::sample::Index>(),
            xor in 1u8..=255,
        ) {
            let mut bytes = encode(&recs, 7, 1_000).to_vec();
            let at = pos.index(bytes.len());
            bytes[at] ^= xor;
            prop_assert!(decode_batch(&Bytes::from(bytes)).is_err());
        }

        #[test]
        fn any_truncation_is_detected(recs in proptest::collection::vec(rec(), 1..5), cut in any::<prop::sample::Index>()) {
            let bytes = encode(&recs, 7, 1_000);
            let len = cut.index(bytes.len());
            prop_assert!(decode_batch(&bytes.slice(..len)).is_err());
        }
    }

    #[test]
    fn empty_append_is_rejected() {
        let mut buf = Vec::new();
        assert!(encode_payload(&mut buf, &[]).is_err());
    }

    #[test]
    fn zero_header_is_end_of_data() {
        assert_eq!(
            BatchHeader::parse(&[0u8; HEADER_LEN]),
            Err(DecodeError::Zeros)
        );
    }

    #[test]
    fn future_version_is_reported() {
        let mut bytes = encode(
            &[Rec {
                key: "k".into(),
                hash: None,
                data: vec![1],
            }],
            0,
            0,
        )
        .to_vec();
        bytes[4] = 2;
        match decode_batch(&Bytes::from(bytes)) {
            Err(DecodeError::Corrupt(d)) => assert!(d.contains("version"), "{d}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
