//! [`RedbMetadata`]: the metadata store in one redb file.
//!
//! One redb table holds every logical table, keyed by `"<table>\0<key>"` so that a range scan
//! over the prefix `"<table>\0"` lists a table in key order. A value is stored as its version
//! (u64 little-endian) followed by its bytes. A second table holds the version counter. Each
//! [`MetadataStore::transact`] is one redb write transaction, committed with redb's default
//! (immediate, fsynced) durability.

use super::{check, MetaOp, MetadataStore, Versioned};
use crate::{Error, Result};
use redb::{ReadableTable, TableDefinition};
use std::path::Path;

const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("weir_metadata");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("weir_metadata_counters");
const LAST_VERSION: &str = "last_version";

pub struct RedbMetadata {
    db: redb::Database,
}

fn meta_err(e: impl std::fmt::Display) -> Error {
    Error::Metadata(e.to_string())
}

fn row_key(table: &str, key: &str) -> String {
    let mut k = String::with_capacity(table.len() + 1 + key.len());
    k.push_str(table);
    k.push('\0');
    k.push_str(key);
    k
}

fn decode(bytes: &[u8]) -> Result<Versioned> {
    if bytes.len() < 8 {
        return Err(Error::Metadata(
            "metadata row shorter than its version".into(),
        ));
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&bytes[..8]);
    Ok(Versioned {
        version: u64::from_le_bytes(v),
        value: bytes[8..].to_vec(),
    })
}

impl RedbMetadata {
    /// Opens (creating if needed) the metadata file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let db = redb::Database::create(path).map_err(meta_err)?;
        let txn = db.begin_write().map_err(meta_err)?;
        txn.open_table(ROWS).map_err(meta_err)?;
        txn.open_table(COUNTERS).map_err(meta_err)?;
        txn.commit().map_err(meta_err)?;
        Ok(RedbMetadata { db })
    }
}

impl MetadataStore for RedbMetadata {
    fn get(&self, table: &str, key: &str) -> Result<Option<Versioned>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let rows = txn.open_table(ROWS).map_err(meta_err)?;
        let got = rows.get(row_key(table, key).as_str()).map_err(meta_err)?;
        got.map(|v| decode(v.value())).transpose()
    }

    fn list(&self, table: &str) -> Result<Vec<(String, Versioned)>> {
        let txn = self.db.begin_read().map_err(meta_err)?;
        let rows = txn.open_table(ROWS).map_err(meta_err)?;
        let (from, to) = (format!("{table}\0"), format!("{table}\u{1}"));
        let mut out = Vec::new();
        for row in rows.range(from.as_str()..to.as_str()).map_err(meta_err)? {
            let (k, v) = row.map_err(meta_err)?;
            let key = k.value().get(from.len()..).unwrap_or_default().to_string();
            out.push((key, decode(v.value())?));
        }
        Ok(out)
    }

    fn transact(&self, ops: Vec<MetaOp>) -> Result<()> {
        let txn = self.db.begin_write().map_err(meta_err)?;
        {
            let mut rows = txn.open_table(ROWS).map_err(meta_err)?;
            let mut counters = txn.open_table(COUNTERS).map_err(meta_err)?;
            for op in &ops {
                let k = row_key(op.table(), op.key());
                let current = match rows.get(k.as_str()).map_err(meta_err)? {
                    Some(v) => Some(decode(v.value())?.version),
                    None => None,
                };
                // Dropping the transaction without committing aborts it: nothing changes.
                check(op, current)?;
            }
            let mut last = counters
                .get(LAST_VERSION)
                .map_err(meta_err)?
                .map_or(0, |v| v.value());
            let mut buf = Vec::new();
            for op in &ops {
                let k = row_key(op.table(), op.key());
                match op {
                    MetaOp::Put { value, .. } => {
                        last += 1;
                        buf.clear();
                        buf.extend_from_slice(&last.to_le_bytes());
                        buf.extend_from_slice(value);
                        rows.insert(k.as_str(), buf.as_slice()).map_err(meta_err)?;
                    }
                    MetaOp::Delete { .. } => {
                        rows.remove(k.as_str()).map_err(meta_err)?;
                    }
                }
            }
            counters.insert(LAST_VERSION, last).map_err(meta_err)?;
        }
        txn.commit().map_err(meta_err)
    }
}
