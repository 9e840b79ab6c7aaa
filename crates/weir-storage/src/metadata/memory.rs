//! [`MemoryMetadata`]: the metadata contract in a `BTreeMap`, for tests.

use super::{check, MetaOp, MetadataStore, Versioned};
use crate::Result;
use parking_lot::Mutex;
use std::collections::BTreeMap;

#[derive(Default)]
struct State {
    rows: BTreeMap<(String, String), Versioned>,
    last_version: u64,
}

#[derive(Default)]
pub struct MemoryMetadata {
    state: Mutex<State>,
}

impl MemoryMetadata {
    pub fn new() -> Self {
        Self::default()
    }
}

impl MetadataStore for MemoryMetadata {
    fn get(&self, table: &str, key: &str) -> Result<Option<Versioned>> {
        Ok(self
            .state
            .lock()
            .rows
            .get(&(table.to_string(), key.to_string()))
            .cloned())
    }

    fn list(&self, table: &str) -> Result<Vec<(String, Versioned)>> {
        let st = self.state.lock();
        let from = (table.to_string(), String::new());
        Ok(st
            .rows
            .range(from..)
            .take_while(|((t, _), _)| t == table)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn transact(&self, ops: Vec<MetaOp>) -> Result<()> {
        let mut st = self.state.lock();
        for op in &ops {
            let current = st
                .rows
                .get(&(op.table().to_string(), op.key().to_string()))
                .map(|v| v.version);
            check(op, current)?;
        }
        for op in ops {
            match op {
                MetaOp::Put {
                    table, key, value, ..
                } => {
                    st.last_version += 1;
                    let version = st.last_version;
                    st.rows.insert((table, key), Versioned { version, value });
                }
                MetaOp::Delete { table, key, .. } => {
                    st.rows.remove(&(table, key));
                }
            }
        }
        Ok(())
    }
}
