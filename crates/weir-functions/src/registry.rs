//! Function definitions in the metadata store (table `functions`, key = function name, value =
//! the JSON of [`FunctionConfig`]).

use crate::model::FunctionConfig;
use crate::{Error, Result};
use std::sync::Arc;
use weir_storage::metadata::{Expect, MetaOp};
use weir_storage::MetadataStore;

const TABLE: &str = "functions";

pub(crate) struct Registry {
    meta: Arc<dyn MetadataStore>,
}

impl Registry {
    pub fn new(meta: Arc<dyn MetadataStore>) -> Self {
        Self { meta }
    }

    pub fn get(&self, name: &str) -> Result<Option<FunctionConfig>> {
        let Some(v) = self.meta.get(TABLE, name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&v.value)
            .map(Some)
            .map_err(|e| Error::Internal(format!("stored function {name} is unreadable: {e}")))
    }

    pub fn list(&self) -> Result<Vec<FunctionConfig>> {
        let mut out = Vec::new();
        for (name, v) in self.meta.list(TABLE)? {
            match serde_json::from_slice(&v.value) {
                Ok(f) => out.push(f),
                Err(e) => {
                    tracing::warn!(function = %name, error = %e, "skipping an unreadable function")
                }
            }
        }
        Ok(out)
    }

    /// Stores a new function; `Conflict` if the name is taken.
    pub fn create(&self, f: &FunctionConfig) -> Result<()> {
        let value = serde_json::to_vec(f).map_err(|e| Error::Internal(e.to_string()))?;
        match self.meta.transact(vec![MetaOp::Put {
            table: TABLE.into(),
            key: f.name.clone(),
            value,
            expect: Expect::Absent,
        }]) {
            Err(weir_storage::Error::Conflict { .. }) => Err(Error::Conflict(f.name.clone())),
            other => other.map_err(Error::from),
        }
    }

    /// Replaces a function's definition.
    pub fn put(&self, f: &FunctionConfig) -> Result<()> {
        let value = serde_json::to_vec(f).map_err(|e| Error::Internal(e.to_string()))?;
        self.meta.transact(vec![MetaOp::Put {
            table: TABLE.into(),
            key: f.name.clone(),
            value,
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    /// Deletes a function; false if there was none.
    pub fn delete(&self, name: &str) -> Result<bool> {
        match self.meta.transact(vec![MetaOp::Delete {
            table: TABLE.into(),
            key: name.into(),
            expect: Expect::Version(match self.meta.get(TABLE, name)? {
                Some(v) => v.version,
                None => return Ok(false),
            }),
        }]) {
            Ok(()) => Ok(true),
            Err(weir_storage::Error::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
