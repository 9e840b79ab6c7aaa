//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! Object compression as Firehose names it. Only UNCOMPRESSED and GZIP are real here.

use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Uncompressed,
    Gzip,
    Zip,
    Snappy,
    HadoopSnappy,
}

impl Compression {
    /// "UNCOMPRESSED" | "GZIP" | "ZIP" | "Snappy" | "HADOOP_SNAPPY"
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

    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy | Compression::HadoopSnappy => ".snappy",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Compression::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                let _ = e.write_all(data);
                e.finish().unwrap_or_default()
            }
            _ => data.to_vec(),
        }
    }
}
