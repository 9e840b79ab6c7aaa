//! One segment file of a shard, its sparse index, and the index file written when it is sealed.
//!
//! The sparse index has one entry per ~`index_interval_bytes` of log (always one for the first
//! batch): `(base offset, file position, first arrival)` of a batch. Because offsets and arrival
//! times never decrease in a shard, a binary search finds the batch to start scanning from for an
//! offset (the last entry at or below it) and for a time (the last entry strictly before it).
//!
//! Index file (`<base_offset:020>.idx`, written to a temporary name and renamed when the segment
//! is sealed; never fsynced, because it can always be rebuilt from the log):
//!
//! ```text
//!   magic b"WIDX" | version u8 | 3 zero bytes | crc32c u32 (of everything after it)
//!   segment_len u64 | base_offset u64 | end_offset u64 | first_millis i64 | last_millis i64
//!   entry_count u32 | entries: (offset u64, position u64, first_millis i64) * entry_count
//! ```
//!
//! An index file is trusted only if its CRC matches and `segment_len` equals the log file's length.

use super::batch::{self, BatchHeader, DecodeError, HEADER_LEN};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

const IDX_MAGIC: [u8; 4] = *b"WIDX";
const IDX_VERSION: u8 = 1;
const IDX_FIXED: usize = 12 + 40 + 4;
/// How much a reader fetches at once, so that small batches cost one syscall per many.
const READ_AHEAD: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub offset: u64,
    pub pos: u64,
    pub first_millis: i64,
}

/// What is known about a segment's contents. Sealed segments never change; the active one grows
/// under its shard's lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegmentMeta {
    /// Bytes of complete batches (the write position of the active segment).
    pub len: u64,
    /// One past the last record written.
    pub end_offset: u64,
    pub first_millis: Option<i64>,
    pub last_millis: Option<i64>,
    pub index: Vec<IndexEntry>,
    /// Position of the last index entry, to space the next one.
    pub last_indexed_pos: Option<u64>,
}

impl SegmentMeta {
    pub fn empty(base_offset: u64) -> Self {
        SegmentMeta {
            end_offset: base_offset,
            ..Default::default()
        }
    }

    /// Records a batch appended at `pos`.
    pub fn note_batch(&mut self, h: &BatchHeader, pos: u64, interval: u64) {
        let due = match self.last_indexed_pos {
            None => true,
            Some(last) => pos >= last + interval,
        };
        if due {
            self.index.push(IndexEntry {
                offset: h.base_offset,
                pos,
                first_millis: h.first_millis,
            });
            self.last_indexed_pos = Some(pos);
        }
        self.len = pos + h.batch_len();
        self.end_offset = h.end_offset();
        self.first_millis.get_or_insert(h.first_millis);
        self.last_millis = Some(h.last_millis);
    }

    /// Where to start scanning for `offset`.
    pub fn pos_for_offset(&self, offset: u64) -> u64 {
        let i = self.index.partition_point(|e| e.offset <= offset);
        if i == 0 {
            0
        } else {
            self.index[i - 1].pos
        }
    }

    /// Where to start scanning for the first record arriving at or after `millis`.
    pub fn pos_for_time(&self, millis: i64) -> u64 {
        let i = self.index.partition_point(|e| e.first_millis < millis);
        if i == 0 {
            0
        } else {
            self.index[i - 1].pos
        }
    }
}

pub(crate) struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub file: File,
    pub meta: RwLock<SegmentMeta>,
    /// Page cache below this position has been handed back (see [`super::pages`]).
    pub released_to: AtomicU64,
    /// The directory entry naming a file that a roll created is not yet known durable. The
    /// first sync of the file's data syncs the directory too (see [`Segment::sync_data`]); a
    /// mutex rather than a flag so that a second sync waits for the first one's directory sync
    /// instead of taking its clearing for completion.
    entry_unsynced: Mutex<bool>,
}

pub(crate) fn log_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}

impl Segment {
    pub fn create(dir: &Path, base_offset: u64) -> io::Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(Segment {
            base_offset,
            path,
            file,
            meta: RwLock::new(SegmentMeta::empty(base_offset)),
            released_to: AtomicU64::new(0),
            entry_unsynced: Mutex::new(false),
        })
    }

    /// [`Segment::create`] for a roll: the directory entry is synced by the file's first
    /// [`Segment::sync_data`] rather than at once, so that a roll does not wait for it.
    pub fn create_unsynced_entry(dir: &Path, base_offset: u64) -> io::Result<Segment> {
        let seg = Segment::create(dir, base_offset)?;
        *seg.entry_unsynced.lock() = true;
        Ok(seg)
    }

    /// `fdatasync`s the file and, the first time for a file a roll created, its directory: what
    /// the file holds is durable only once both are.
    pub fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()?;
        let mut unsynced = self.entry_unsynced.lock();
        if *unsynced {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            super::sync_dir(dir)?;
            *unsynced = false;
        }
        Ok(())
    }

    pub fn open(path: PathBuf, base_offset: u64) -> io::Result<Segment> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)?;
        Ok(Segment {
            base_offset,
            path,
            file,
            meta: RwLock::new(SegmentMeta::empty(base_offset)),
            released_to: AtomicU64::new(0),
            entry_unsynced: Mutex::new(false),
        })
    }

    pub fn idx_path(&self) -> PathBuf {
        self.path.with_extension("idx")
    }

    pub fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    /// Writes the index file of a sealed segment (temporary name, then rename).
    pub fn write_index(&self) -> io::Result<()> {
        let m = self.meta.read();
        let mut buf = Vec::with_capacity(IDX_FIXED + m.index.len() * 24);
        buf.extend_from_slice(&IDX_MAGIC);
        buf.extend_from_slice(&[IDX_VERSION, 0, 0, 0]);
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&m.len.to_le_bytes());
        buf.extend_from_slice(&self.base_offset.to_le_bytes());
        buf.extend_from_slice(&m.end_offset.to_le_bytes());
        buf.extend_from_slice(&m.first_millis.unwrap_or(i64::MIN).to_le_bytes());
        buf.extend_from_slice(&m.last_millis.unwrap_or(i64::MIN).to_le_bytes());
        buf.extend_from_slice(&(m.index.len() as u32).to_le_bytes());
        for e in &m.index {
            buf.extend_from_slice(&e.offset.to_le_bytes());
            buf.extend_from_slice(&e.pos.to_le_bytes());
            buf.extend_from_slice(&e.first_millis.to_le_bytes());
        }
        let crc = crc32c::crc32c(&buf[12..]);
        buf[8..12].copy_from_slice(&crc.to_le_bytes());
        let path = self.idx_path();
        let tmp = path.with_extension("idx.tmp");
        std::fs::write(&tmp, &buf)?;
        std::fs::rename(&tmp, &path)
    }

    /// Loads the index file if it is intact and describes this log file as it is.
    pub fn load_index(&self) -> Option<SegmentMeta> {
        let buf = std::fs::read(self.idx_path()).ok()?;
        let file_len = self.file.metadata().ok()?.len();
        parse_index(&buf, self.base_offset, file_len)
    }

    /// Scans batches from position 0, validating each completely, and rebuilds the metadata.
    /// Returns where and why the scan stopped before the end of the file, if it did.
    pub fn scan(&self, interval: u64) -> io::Result<(SegmentMeta, Option<(u64, DecodeError)>)> {
        let file_len = self.file.metadata()?.len();
        let mut meta = SegmentMeta::empty(self.base_offset);
        let mut reader = SegmentReader::new(self, file_len);
        let mut pos = 0u64;
        while pos < file_len {
            let (h, raw, payload) = match reader.batch_at(pos) {
                Ok(b) => b,
                Err(ReadError::Decode(e)) => return Ok((meta, Some((pos, e)))),
                Err(ReadError::Io(e)) => return Err(e),
            };
            if let Err(e) = check_next(&meta, pos, &h, &raw, &payload) {
                return Ok((meta, Some((pos, e))));
            }
            meta.note_batch(&h, pos, interval);
            pos += h.batch_len();
        }
        Ok((meta, None))
    }
}

/// Checks that a batch read whole at `pos` may follow what `meta` describes: its offsets run
/// on, its arrival times do not go back, its CRC and records are sound.
pub(crate) fn check_next(
    meta: &SegmentMeta,
    pos: u64,
    h: &BatchHeader,
    raw: &[u8],
    payload: &Bytes,
) -> Result<(), DecodeError> {
    if h.base_offset != meta.end_offset {
        return Err(DecodeError::Corrupt(format!(
            "batch at {pos} has offset {} where {} was expected",
            h.base_offset, meta.end_offset
        )));
    }
    if meta.last_millis.is_some_and(|l| h.first_millis < l) {
        return Err(DecodeError::Corrupt(format!(
            "batch at {pos} goes back in time"
        )));
    }
    batch::verify(h, raw, payload).and_then(|()| batch::validate_records(h, payload))
}

fn parse_index(buf: &[u8], base_offset: u64, file_len: u64) -> Option<SegmentMeta> {
    if buf.len() < IDX_FIXED || buf[0..4] != IDX_MAGIC || buf[4] != IDX_VERSION {
        return None;
    }
    let word = |at: usize| -> u64 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(x)
    };
    let crc = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if crc32c::crc32c(&buf[12..]) != crc {
        return None;
    }
    let (len, base, end) = (word(12), word(20), word(28));
    let (first, last) = (word(36) as i64, word(44) as i64);
    let count = u32::from_le_bytes([buf[52], buf[53], buf[54], buf[55]]) as usize;
    if len != file_len || base != base_offset || end < base || buf.len() != IDX_FIXED + count * 24 {
        return None;
    }
    let index: Vec<IndexEntry> = (0..count)
        .map(|i| {
            let at = IDX_FIXED + i * 24;
            IndexEntry {
                offset: word(at),
                pos: word(at + 8),
                first_millis: word(at + 16) as i64,
            }
        })
        .collect();
    let ordered = index
        .windows(2)
        .all(|w| w[0].offset < w[1].offset && w[0].pos < w[1].pos);
    if !ordered
        || index
            .last()
            .is_some_and(|e| e.pos >= len || e.offset >= end)
    {
        return None;
    }
    let some = |x: i64| (end > base).then_some(x);
    Some(SegmentMeta {
        len,
        end_offset: end,
        first_millis: some(first),
        last_millis: some(last),
        last_indexed_pos: index.last().map(|e| e.pos),
        index,
    })
}

#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Decode(DecodeError),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads batches from a segment with positional reads through a read-ahead window, so that a
/// scan over small batches costs one syscall per [`READ_AHEAD`] bytes and records can share the
/// window's memory.
pub(crate) struct SegmentReader<'a> {
    seg: &'a Segment,
    limit: u64,
    window: Bytes,
    window_pos: u64,
}

impl<'a> SegmentReader<'a> {
    /// A reader that never reads at or past `limit`.
    pub fn new(seg: &'a Segment, limit: u64) -> Self {
        SegmentReader {
            seg,
            limit,
            window: Bytes::new(),
            window_pos: 0,
        }
    }

    fn ensure(&mut self, pos: u64, len: usize) -> Result<Bytes, ReadError> {
        let end = pos + len as u64;
        if end > self.limit {
            return Err(ReadError::Decode(DecodeError::Truncated));
        }
        let have = pos >= self.window_pos && end <= self.window_pos + self.window.len() as u64;
        if !have {
            let want = len.max(READ_AHEAD).min((self.limit - pos) as usize);
            let mut buf = vec![0u8; want];
            self.seg.file.read_exact_at(&mut buf, pos)?;
            self.window = Bytes::from(buf);
            self.window_pos = pos;
        }
        let start = (pos - self.window_pos) as usize;
        Ok(self.window.slice(start..start + len))
    }

    /// Reads the header at `pos` without fetching the payload past the read-ahead window.
    pub fn header_at(&mut self, pos: u64) -> Result<BatchHeader, ReadError> {
        let raw = self.ensure(pos, HEADER_LEN)?;
        BatchHeader::parse(&raw).map_err(ReadError::Decode)
    }

    /// The header, raw header bytes and payload of the batch at `pos` (CRC not yet checked).
    pub fn batch_at(&mut self, pos: u64) -> Result<(BatchHeader, Bytes, Bytes), ReadError> {
        let h = self.header_at(pos)?;
        let all = self.ensure(pos, h.batch_len() as usize)?;
        Ok((h, all.slice(..HEADER_LEN), all.slice(HEADER_LEN..)))
    }

    /// Like [`batch_at`](Self::batch_at) but checks the CRC, turning any damage into
    /// [`crate::Error::Corrupt`].
    pub fn verified_batch_at(&mut self, pos: u64) -> crate::Result<(BatchHeader, Bytes)> {
        let corrupt = |seg: &Segment, e: DecodeError| crate::Error::Corrupt {
            path: seg.path_str(),
            detail: format!("at byte {pos}: {e}"),
        };
        let (h, raw, payload) = match self.batch_at(pos) {
            Ok(b) => b,
            Err(ReadError::Io(e)) => return Err(e.into()),
            Err(ReadError::Decode(e)) => return Err(corrupt(self.seg, e)),
        };
        batch::verify(&h, &raw, &payload).map_err(|e| corrupt(self.seg, e))?;
        Ok((h, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(base: u64, count: u32, millis: i64, payload_len: u32) -> BatchHeader {
        BatchHeader {
            crc: 0,
            base_offset: base,
            record_count: count,
            first_millis: millis,
            last_millis: millis,
            payload_len,
        }
    }

    #[test]
    fn sparse_index_spaces_entries_and_finds_start_positions() {
        let mut m = SegmentMeta::empty(100);
        let mut pos = 0;
        for i in 0..20u64 {
            let h = header(100 + i * 2, 2, 1_000 + i as i64 * 10, 956);
            m.note_batch(&h, pos, 4096);
            pos += h.batch_len();
        }
        // 1000-byte batches, one entry per >= 4096 bytes: batches 0, 5, 10, 15.
        let offsets: Vec<u64> = m.index.iter().map(|e| e.offset).collect();
        assert_eq!(offsets, vec![100, 110, 120, 130]);
        assert_eq!((m.len, m.end_offset), (20_000, 140));
        assert_eq!((m.first_millis, m.last_millis), (Some(1_000), Some(1_190)));
        assert_eq!(m.pos_for_offset(0), 0);
        assert_eq!(m.pos_for_offset(109), 0);
        assert_eq!(m.pos_for_offset(110), 5_000);
        assert_eq!(m.pos_for_offset(139), 15_000);
        assert_eq!(m.pos_for_time(1_050), 0);
        assert_eq!(m.pos_for_time(1_051), 5_000);
        assert_eq!(m.pos_for_time(i64::MAX), 15_000);
    }

    #[test]
    fn index_file_round_trips_and_rejects_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Segment::create(dir.path(), 42).unwrap();
        seg.file.set_len(3_000).unwrap();
        {
            let mut m = seg.meta.write();
            for i in 0..3u64 {
                m.note_batch(&header(42 + i, 1, 7, 956), i * 1_000, 1);
            }
        }
        seg.write_index().unwrap();
        let loaded = seg.load_index().expect("valid index");
        assert_eq!(loaded.index, seg.meta.read().index);
        assert_eq!(
            (loaded.len, loaded.end_offset, loaded.last_millis),
            (3_000, 45, Some(7))
        );
        seg.file.set_len(3_001).unwrap();
        assert!(seg.load_index().is_none(), "log length no longer matches");
        let buf = std::fs::read(seg.idx_path()).unwrap();
        assert!(parse_index(&buf, 43, 3_000).is_none(), "wrong base offset");
        assert!(
            parse_index(&buf[..buf.len() - 1], 42, 3_000).is_none(),
            "truncated"
        );
    }
}
