//! Object compression: Firehose's `CompressionFormat` values and file extensions.
//!
//! - `GZIP`: one gzip member (`.gz`).
//! - `ZIP`: a ZIP archive with one deflated entry (`.zip`), written here with flate2 rather than
//!   the `zip` crate, which brings far more than one entry needs. The entry's name inside the
//!   archive is not documented by AWS; [`Compression::compress_entry`] lets the caller choose it
//!   (the object name without `.zip` is the natural choice) and [`Compression::compress`] uses
//!   [`DEFAULT_ZIP_ENTRY`].
//! - `Snappy`: the snappy *framing* format (stream identifier + CRC-32C-checked chunks), the
//!   self-describing stream format that `python-snappy`'s `stream_decompress` and `snappy-java`'s
//!   `SnappyFramedInputStream` read. That Firehose's `.snappy` objects are framed (rather than one
//!   raw block) is the common understanding; no AWS text saying so was found (UNCONFIRMED).
//! - `HADOOP_SNAPPY`: Hadoop's `BlockCompressorStream` layout as written by `SnappyCodec`
//!   (`.hsnappy`): per block, a 4-byte big-endian uncompressed length, then 4-byte big-endian
//!   compressed length + raw snappy chunk; blocks hold at most 256 KiB − (256 KiB / 6 + 32) input
//!   bytes, the codec's default buffer minus its compression overhead.
//!
//! Extensions are those of the Firehose developer guide's table ("Configure Amazon S3 object
//! name format", confirmed): `.gz`, `.zip`, `.snappy`, `.hsnappy`.

use std::io::Write;

/// Firehose's `CompressionFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// `UNCOMPRESSED`.
    Uncompressed,
    /// `GZIP`.
    Gzip,
    /// `ZIP`.
    Zip,
    /// `Snappy` (framing format).
    Snappy,
    /// `HADOOP_SNAPPY` (Hadoop block format).
    HadoopSnappy,
}

/// Name of the single ZIP entry when the caller does not choose one.
pub const DEFAULT_ZIP_ENTRY: &str = "data";

/// Input bytes per Hadoop snappy block: `SnappyCodec`'s 256 KiB buffer minus its overhead.
pub const HADOOP_SNAPPY_BLOCK: usize = 256 * 1024 - (256 * 1024 / 6 + 32);

impl Compression {
    /// From the API value: "UNCOMPRESSED" | "GZIP" | "ZIP" | "Snappy" | "HADOOP_SNAPPY".
    pub fn from_aws(name: &str) -> Option<Self> {
        Some(match name {
            "UNCOMPRESSED" => Compression::Uncompressed,
            "GZIP" => Compression::Gzip,
            "ZIP" => Compression::Zip,
            "Snappy" => Compression::Snappy,
            "HADOOP_SNAPPY" => Compression::HadoopSnappy,
            _ => return None,
        })
    }

    /// The API value.
    pub fn as_aws(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Zip => "ZIP",
            Compression::Snappy => "Snappy",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }

    /// Firehose's file extension, with its dot, or "" when uncompressed.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy => ".snappy",
            Compression::HadoopSnappy => ".hsnappy",
        }
    }

    /// Compresses one whole object.
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        self.compress_entry(data, DEFAULT_ZIP_ENTRY)
    }

    /// Compresses one whole object; `zip_entry` names the entry inside a ZIP archive.
    pub fn compress_entry(self, data: &[u8], zip_entry: &str) -> Vec<u8> {
        match self {
            Compression::Uncompressed => data.to_vec(),
            Compression::Gzip => gzip(data),
            Compression::Zip => zip(data, zip_entry),
            Compression::Snappy => snappy_framed(data),
            Compression::HadoopSnappy => hadoop_snappy(data),
        }
    }
}

/// Writing to a `Vec` cannot fail, so the encoders' I/O errors are unreachable; they are mapped
/// to an empty result rather than a panic.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|_| enc.finish())
        .unwrap_or_default()
}

fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|_| enc.finish())
        .unwrap_or_default()
}

/// Sizes in the classic ZIP headers are 32-bit; objects are at most 128 MiB (the largest
/// BufferingHints.SizeInMBs), so they always fit.
fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One-entry ZIP archive: local header, deflated data, central directory, end record.
fn zip(data: &[u8], entry: &str) -> Vec<u8> {
    let compressed = deflate_raw(data);
    let crc = crc32fast::hash(data);
    let name = entry.as_bytes();
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let name = &name[..usize::from(name_len)];
    // DOS date 1980-01-01 00:00: the archive's content does not depend on wall-clock time.
    let (dos_time, dos_date) = (0u16, 0x0021u16);
    let flags = 0x0800u16; // UTF-8 file name
    let mut out = Vec::with_capacity(compressed.len() + 2 * name.len() + 98);
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0 (deflate)
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes()); // method: deflate
        out.extend_from_slice(&dos_time.to_le_bytes());
        out.extend_from_slice(&dos_date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&u32_len(compressed.len()).to_le_bytes());
        out.extend_from_slice(&u32_len(data.len()).to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
    };
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(name);
    out.extend_from_slice(&compressed);
    let cd_offset = out.len();
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version made by
    common(&mut out);
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out.extend_from_slice(&0u16.to_le_bytes()); // disk number
    out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name);
    let cd_size = out.len() - cd_offset;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // central directory disk
    out.extend_from_slice(&1u16.to_le_bytes()); // entries on this disk
    out.extend_from_slice(&1u16.to_le_bytes()); // entries
    out.extend_from_slice(&u32_len(cd_size).to_le_bytes());
    out.extend_from_slice(&u32_len(cd_offset).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

fn snappy_framed(data: &[u8]) -> Vec<u8> {
    let mut enc = snap::write::FrameEncoder::new(Vec::new());
    if enc.write_all(data).is_err() {
        return Vec::new();
    }
    enc.into_inner().unwrap_or_default()
}

fn hadoop_snappy(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    let mut encoder = snap::raw::Encoder::new();
    for block in data.chunks(HADOOP_SNAPPY_BLOCK) {
        let chunk = encoder.compress_vec(block).unwrap_or_default();
        out.extend_from_slice(&u32_len(block.len()).to_be_bytes());
        out.extend_from_slice(&u32_len(chunk.len()).to_be_bytes());
        out.extend_from_slice(&chunk);
    }
    out
}

/// Decodes Hadoop's snappy block format (for tests and tools reading objects back).
/// Err = truncated or corrupt input.
pub fn hadoop_snappy_decompress(mut data: &[u8]) -> Result<Vec<u8>, String> {
    fn be32(data: &[u8]) -> Result<usize, String> {
        let b: [u8; 4] = data
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or("truncated Hadoop snappy block header")?;
        Ok(u32::from_be_bytes(b) as usize)
    }
    let mut out = Vec::new();
    let mut decoder = snap::raw::Decoder::new();
    while !data.is_empty() {
        let raw_len = be32(data)?;
        data = &data[4..];
        let start = out.len();
        while out.len() - start < raw_len {
            let len = be32(data)?;
            let chunk = data
                .get(4..4 + len)
                .ok_or("truncated Hadoop snappy chunk")?;
            out.extend(decoder.decompress_vec(chunk).map_err(|e| e.to_string())?);
            data = &data[4 + len..];
        }
        if out.len() - start != raw_len {
            return Err("Hadoop snappy block longer than its header says".into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn names_and_extensions() {
        for c in [
            Compression::Uncompressed,
            Compression::Gzip,
            Compression::Zip,
            Compression::Snappy,
            Compression::HadoopSnappy,
        ] {
            assert_eq!(Compression::from_aws(c.as_aws()), Some(c));
        }
        assert_eq!(Compression::from_aws("gzip"), None);
        assert_eq!(Compression::HadoopSnappy.extension(), ".hsnappy");
    }

    #[test]
    fn gzip_and_snappy_round_trip() {
        let data = b"hello firehose\n".repeat(1000);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&Compression::Gzip.compress(&data)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&Compression::Snappy.compress(&data)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn hadoop_snappy_blocks() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let out = Compression::HadoopSnappy.compress(&data);
        assert_eq!(&out[..4], &(HADOOP_SNAPPY_BLOCK as u32).to_be_bytes());
        assert_eq!(hadoop_snappy_decompress(&out).unwrap(), data);
        assert!(Compression::HadoopSnappy.compress(b"").is_empty());
        assert!(hadoop_snappy_decompress(&out[..out.len() - 1]).is_err());
    }
}
