//! Glue Data Catalog shapes (botocore `glue/2017-03-31`), with AWS's field names on the wire
//! and in the metadata store.
//!
//! The fields weir reads (names, columns, serde information, versions) are typed; every other
//! member a client sends (SortColumns, SkewedInfo, TargetTable, ViewDefinition, ...) is kept as
//! it came in `extra` and given back unchanged, so a client that round-trips a table through
//! GetTable → UpdateTable loses nothing. Timestamps are epoch seconds, as awsJson1.1 sends them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Parameters = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Database {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_table_default_permissions: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// TargetDatabase, FederatedDatabase and anything newer, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Column {
    pub name: String,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerDeInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialization_library: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StorageDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<Column>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_buckets: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serde_info: Option<SerDeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// BucketColumns, SortColumns, SkewedInfo, StoredAsSubDirectories, SchemaReference, ...
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Glue table. The same struct decodes a `TableInput` (the computed members are then absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_analyzed_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_descriptor: Option<StorageDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_keys: Option<Vec<Column>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_original_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_expanded_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_registered_with_lake_formation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// TargetTable, ViewDefinition, FederatedTable, ... kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Table {
    /// The data columns (StorageDescriptor.Columns), in order; empty when there are none.
    pub fn columns(&self) -> &[Column] {
        self.storage_descriptor
            .as_ref()
            .and_then(|sd| sd.columns.as_deref())
            .unwrap_or(&[])
    }

    /// A table from `name:type,name:type` (the `weir glue create-table --columns` syntax); commas
    /// inside `<>` or `()` belong to the type.
    pub fn from_column_spec(name: &str, spec: &str) -> Result<Table, String> {
        let mut columns = Vec::new();
        for part in split_top_level(spec) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (n, t) = part
                .split_once(':')
                .ok_or_else(|| format!("column '{part}' is not of the form name:type"))?;
            crate::hive::HiveType::parse(t)?;
            columns.push(Column {
                name: n.trim().to_string(),
                type_: Some(t.trim().to_string()),
                ..Column::default()
            });
        }
        Ok(Table {
            name: name.to_string(),
            storage_descriptor: Some(StorageDescriptor {
                columns: Some(columns),
                ..StorageDescriptor::default()
            }),
            ..Table::default()
        })
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_members_survive_a_round_trip() {
        let input = serde_json::json!({
            "Name": "t",
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                                  "SortColumns": [{"Column": "a", "SortOrder": 1}]},
            "TargetTable": {"CatalogId": "1", "DatabaseName": "d", "Name": "x"}
        });
        let t: Table = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(t.columns()[0].type_.as_deref(), Some("int"));
        assert_eq!(serde_json::to_value(&t).unwrap(), input);
    }

    #[test]
    fn column_spec() {
        let t =
            Table::from_column_spec("t", "a:string, b:decimal(10,2),c:map<string,int>").unwrap();
        let types: Vec<_> = t
            .columns()
            .iter()
            .map(|c| c.type_.clone().unwrap())
            .collect();
        assert_eq!(types, ["string", "decimal(10,2)", "map<string,int>"]);
        assert!(Table::from_column_spec("t", "a").is_err());
        assert!(Table::from_column_spec("t", "a:nope").is_err());
    }
}
