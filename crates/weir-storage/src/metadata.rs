//! The durable metadata store: tables of versioned values with compare-and-set transactions.
//!
//! Values are opaque bytes (the services store JSON); every put bumps the key's version. A
//! transaction applies all of its operations or none, and fails with [`Error::Conflict`] when an
//! expectation does not hold — the same contract a PostgreSQL backend will give.
//!
//! Versions come from one counter per store, so a key that is deleted and written again never
//! gets back a version it had before: an `Expect::Version` taken from the old value cannot
//! match the new one (no ABA). Expectations are checked against the state before the
//! transaction, then all writes apply in order.
//!
//! Backends: [`RedbMetadata`] (a redb file, durable on commit) and [`MemoryMetadata`] (tests).

mod memory;
mod redb_store;

pub use memory::MemoryMetadata;
pub use redb_store::RedbMetadata;

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub version: u64,
    pub value: Vec<u8>,
}

/// What a transaction expects of a key before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    Absent,
    Version(u64),
}

#[derive(Debug, Clone)]
pub enum MetaOp {
    Put {
        table: String,
        key: String,
        value: Vec<u8>,
        expect: Expect,
    },
    Delete {
        table: String,
        key: String,
        expect: Expect,
    },
}

pub trait MetadataStore: Send + Sync + 'static {
    fn get(&self, table: &str, key: &str) -> Result<Option<Versioned>>;
    /// Every key of a table, in key order.
    fn list(&self, table: &str) -> Result<Vec<(String, Versioned)>>;
    /// Applies all operations atomically and durably, or none.
    fn transact(&self, ops: Vec<MetaOp>) -> Result<()>;
}

impl MetaOp {
    pub fn table(&self) -> &str {
        match self {
            MetaOp::Put { table, .. } | MetaOp::Delete { table, .. } => table,
        }
    }
    pub fn key(&self) -> &str {
        match self {
            MetaOp::Put { key, .. } | MetaOp::Delete { key, .. } => key,
        }
    }
    pub fn expect(&self) -> Expect {
        match self {
            MetaOp::Put { expect, .. } | MetaOp::Delete { expect, .. } => *expect,
        }
    }
}

/// Checks one operation's expectation against the key's current version.
pub(crate) fn check(op: &MetaOp, current: Option<u64>) -> Result<()> {
    if op.table().contains('\0') {
        return Err(Error::Invalid(format!(
            "metadata table name {:?} contains a NUL",
            op.table()
        )));
    }
    let ok = match (op.expect(), current) {
        (Expect::Any, _) => true,
        (Expect::Absent, None) => true,
        (Expect::Version(v), Some(c)) => v == c,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(conflict(op.table(), op.key()))
    }
}

pub(crate) fn conflict(table: &str, key: &str) -> Error {
    Error::Conflict {
        table: table.to_string(),
        key: key.to_string(),
    }
}
