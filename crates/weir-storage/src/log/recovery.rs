//! Start-up: find every shard on disk and make its log consistent.
//!
//! * Sealed segments are described by their index file when it is intact and matches the log
//!   file's length; otherwise they are scanned and the index rewritten (a zero tail after the
//!   last batch, left by a crash before the roll's deferred cut, is cut first). A sealed
//!   segment whose scan stops early is damaged, not torn (sealed segments are synced before the
//!   next one starts): it is kept, with its offsets running to the next segment's base, so
//!   that reads of the damaged part fail with `Error::Corrupt` instead of silently skipping
//!   data.
//! * The tail segment is always scanned, every batch's CRC, offset and records validated, and the
//!   file is truncated at the first batch that fails (a torn write). A header of zeros ends the
//!   data: if everything from there to the end of the file is zero it is the preallocated tail
//!   (see [`super::pages`]) and is kept; if anything else follows, the file is truncated there
//!   too. What remains is synced, with the directory naming it, so nothing served after a
//!   restart can be lost afterwards.
//! * Then the commit log's records for the shard are applied to the tail segment, append-only
//!   (see [`super::commit_log`]): what a round made durable only through the log, and the
//!   crash took from the segment, is written back and synced. A log record for a segment newer
//!   than any on disk (a roll whose new file's directory entry the crash took) creates it.
//!   Records of shards that are gone (deleted streams) are dropped.
//! * `<stream>.deleted` tombstones left by an interrupted `delete_stream` are removed.

use super::batch::{BatchHeader, DecodeError, HEADER_LEN};
use super::commit_log::LogRecord;
use super::pages;
use super::segment::{self, log_path, Segment};
use super::shard::Shard;
use super::Settings;
use crate::{RecoveryReport, Result, ShardKey};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) fn recover(
    dir: &Path,
    settings: &Settings,
    logged: &mut HashMap<ShardKey, Vec<LogRecord>>,
) -> Result<(HashMap<ShardKey, Arc<Shard>>, RecoveryReport)> {
    std::fs::create_dir_all(dir)?;
    let mut report = RecoveryReport::default();
    let mut shards = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if name.ends_with(".deleted") {
            std::fs::remove_dir_all(&path)?;
            continue;
        }
        let Some(stream) = parse_hex(&name, 16) else {
            continue;
        };
        for sentry in std::fs::read_dir(&path)? {
            let sentry = sentry?;
            let sname = sentry.file_name().to_string_lossy().into_owned();
            let Some(shard) = parse_hex(&sname, 8) else {
                continue;
            };
            if !sentry.file_type()?.is_dir() {
                continue;
            }
            let key = ShardKey {
                stream,
                shard: shard as u32,
            };
            let records = logged.remove(&key).unwrap_or_default();
            let s = recover_shard(key, sentry.path(), settings, &records, &mut report)?;
            report.shards += 1;
            shards.insert(key, Arc::new(s));
        }
    }
    Ok((shards, report))
}

fn parse_hex(name: &str, len: usize) -> Option<u64> {
    if name.len() != len || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(name, 16).ok()
}

fn recover_shard(
    key: ShardKey,
    dir: PathBuf,
    settings: &Settings,
    records: &[LogRecord],
    report: &mut RecoveryReport,
) -> Result<Shard> {
    let interval = settings.options.index_interval_bytes;
    let mut logs: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".idx.tmp") {
            let _ = std::fs::remove_file(&path);
        } else if let Some(stem) = name.strip_suffix(".log") {
            if stem.len() == 20 {
                if let Ok(base) = stem.parse::<u64>() {
                    logs.push((base, path));
                }
            }
        }
    }
    logs.sort();
    if logs.is_empty() && records.is_empty() {
        let seg = Segment::create(&dir, 0)?;
        report.segments += 1;
        return Ok(Shard::new(key, dir, vec![Arc::new(seg)]));
    }
    // Segments only the commit log knows of: a roll's new file whose directory entry the crash
    // took (or, for a shard whose first file it took, segment 0) — known by a record of its
    // very first batch.
    let newest = logs.last().map(|(base, _)| *base);
    let mut missing: Vec<u64> = records
        .iter()
        .filter(|r| newest.is_none_or(|n| r.segment_base > n) && r.pos == 0)
        .filter(|r| BatchHeader::parse(&r.batches).is_ok_and(|h| h.base_offset == r.segment_base))
        .map(|r| r.segment_base)
        .collect();
    missing.sort();
    missing.dedup();
    for base in missing {
        Segment::create(&dir, base)?;
        logs.push((base, log_path(&dir, base)));
    }
    let mut segments = Vec::with_capacity(logs.len());
    for (i, (base, path)) in logs.iter().enumerate() {
        let seg = Segment::open(path.clone(), *base)?;
        let file_len = seg.file.metadata()?.len();
        match logs.get(i + 1) {
            Some(&(next_base, _)) => recover_sealed(&seg, next_base, file_len, interval)?,
            None => {
                report.truncated_bytes += recover_tail(&seg, file_len, interval)?;
                let replayed = replay(&seg, records, interval)?;
                report.replayed_bytes += replayed;
                if *base > 0 || replayed > 0 {
                    // A roll leaves the new file's directory entry to its first sync, which a
                    // crash may have beaten; what is served from now on must stay.
                    super::sync_dir(&dir)?;
                }
            }
        }
        let m = seg.meta.read();
        report.segments += 1;
        report.records += m.end_offset - seg.base_offset;
        report.bytes += m.len;
        drop(m);
        segments.push(Arc::new(seg));
    }
    Ok(Shard::new(key, dir, segments))
}

fn recover_sealed(seg: &Segment, next_base: u64, file_len: u64, interval: u64) -> Result<()> {
    if let Some(meta) = seg.load_index().filter(|m| m.end_offset == next_base) {
        *seg.meta.write() = meta;
        return Ok(());
    }
    let (mut meta, mut stop) = seg.scan(interval)?;
    if let Some((pos, DecodeError::Zeros)) = stop {
        // A zero tail left by a crash before the roll's cut (done after the sync) reached the disk.
        if meta.end_offset == next_base && pages::is_zero(seg, pos, file_len)? {
            seg.file.set_len(pos)?;
            seg.file.sync_all()?;
            stop = None;
        }
    }
    if stop.is_none() && meta.end_offset == next_base {
        *seg.meta.write() = meta;
        if let Err(e) = seg.write_index() {
            tracing::warn!(path = %seg.path.display(), error = %e, "could not rewrite a segment index");
        }
        return Ok(());
    }
    let why = stop.map_or_else(
        || format!("records end at offset {}", meta.end_offset),
        |(pos, e)| format!("at byte {pos}: {e}"),
    );
    tracing::error!(path = %seg.path.display(), detail = %why, next_base,
        "sealed segment is damaged; reads of its damaged part will fail as corrupt");
    meta.len = file_len;
    meta.end_offset = next_base.max(meta.end_offset);
    *seg.meta.write() = meta;
    Ok(())
}

/// Scans the tail segment and cuts it at the first invalid batch; returns the bytes cut.
fn recover_tail(seg: &Segment, file_len: u64, interval: u64) -> Result<u64> {
    let idx = seg.idx_path();
    if idx.exists() {
        std::fs::remove_file(&idx)?;
    }
    let (meta, stop) = seg.scan(interval)?;
    let mut cut = 0;
    if let Some((pos, e)) = stop {
        if matches!(e, DecodeError::Zeros) && pages::is_zero(seg, pos, file_len)? {
            seg.file.sync_all()?;
            *seg.meta.write() = meta;
            return Ok(0);
        }
        cut = file_len - pos;
        tracing::warn!(path = %seg.path.display(), at = pos, bytes = cut, reason = %e, "truncating a torn segment tail");
        seg.file.set_len(pos)?;
    }
    seg.file.sync_all()?;
    *seg.meta.write() = meta;
    Ok(cut)
}

/// Applies the commit log's records for the tail segment, append-only: batches below its valid
/// end are there already; one that starts at it and carries its next offset is written; any
/// other ends its record. Returns the bytes written (and synced).
fn replay(seg: &Segment, records: &[LogRecord], interval: u64) -> Result<u64> {
    let mut meta = seg.meta.write();
    let mut written = 0u64;
    for r in records.iter().filter(|r| r.segment_base == seg.base_offset) {
        let bytes = &r.batches;
        let mut at = 0usize;
        while let Ok(h) = BatchHeader::parse(&bytes[at..]) {
            let end = at + h.batch_len() as usize;
            if end > bytes.len() {
                break;
            }
            let Some(pos) = r.pos.checked_add(at as u64) else {
                break;
            };
            if pos + h.batch_len() <= meta.len {
                at = end;
                continue;
            }
            let raw = &bytes[at..at + HEADER_LEN];
            let payload = bytes.slice(at + HEADER_LEN..end);
            if pos != meta.len || segment::check_next(&meta, pos, &h, raw, &payload).is_err() {
                break;
            }
            seg.file.write_all_at(&bytes[at..end], pos)?;
            meta.note_batch(&h, pos, interval);
            written += h.batch_len();
            at = end;
        }
    }
    if written > 0 {
        tracing::warn!(path = %seg.path.display(), bytes = written, "wrote back batches the segment had lost from the commit log");
        seg.file.sync_all()?;
    }
    Ok(written)
}
