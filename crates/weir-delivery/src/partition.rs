//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! MetadataExtraction: the stub understands `{name: .path.to.field, ...}` only.

use std::collections::BTreeMap;

pub struct Extractor {
    keys: Vec<(String, Vec<String>)>,
}

impl Extractor {
    pub fn new(query: &str) -> Result<Self, String> {
        let q = query.trim();
        let inner = q
            .strip_prefix('{')
            .and_then(|q| q.strip_suffix('}'))
            .ok_or_else(|| format!("Invalid MetadataExtractionQuery: {query}"))?;
        let mut keys = Vec::new();
        for part in inner.split(',') {
            let (name, path) = part
                .split_once(':')
                .ok_or_else(|| format!("Invalid MetadataExtractionQuery: {query}"))?;
            let path = path.trim();
            let path = path
                .strip_prefix('.')
                .ok_or_else(|| format!("Invalid MetadataExtractionQuery: {query}"))?;
            keys.push((
                name.trim().to_string(),
                path.split('.').map(str::to_string).collect(),
            ));
        }
        Ok(Self { keys })
    }

    pub fn extract(&self, record: &[u8]) -> Result<BTreeMap<String, String>, String> {
        let v: serde_json::Value =
            serde_json::from_slice(record).map_err(|e| format!("Non JSON record provided: {e}"))?;
        let mut out = BTreeMap::new();
        for (name, path) in &self.keys {
            let mut cur = &v;
            for p in path {
                cur = cur.get(p).unwrap_or(&serde_json::Value::Null);
            }
            let s = match cur {
                serde_json::Value::Null => {
                    return Err(format!("partition key {name} is null or missing"))
                }
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return Err(format!("partition key {name} is not a scalar")),
            };
            out.insert(name.clone(), s);
        }
        Ok(out)
    }
}
