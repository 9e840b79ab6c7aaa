//! CreateTable: a table (its columns are what format conversion reads) in an existing database.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::Deserialize;
use weir_formats::{Catalog, CatalogError, Table};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    database_name: Option<String>,
    name: Option<String>,
    table_input: Option<Table>,
    open_table_format_input: Option<serde_json::Value>,
}

/// The TableInput members Glue constrains and weir reads.
pub(crate) fn validate_table_input(v: &mut Violations, t: &Table) {
    name(v, "tableInput.name", &Some(t.name.clone()), true);
    if let Some(d) = &t.description {
        v.str_len("tableInput.description", d, 0, 2048);
    }
    if let Some(o) = &t.owner {
        v.str_len("tableInput.owner", o, 1, 255);
    }
    if let Some(r) = t.retention {
        v.min_i64("tableInput.retention", r, 0);
    }
    if let Some(tt) = &t.table_type {
        v.str_len("tableInput.tableType", tt, 0, 255);
    }
    let columns = t
        .storage_descriptor
        .as_ref()
        .and_then(|sd| sd.columns.as_ref());
    for (i, c) in columns.into_iter().flatten().enumerate() {
        let path = format!("tableInput.storageDescriptor.columns.{}.member", i + 1);
        name(v, &format!("{path}.name"), &Some(c.name.clone()), true);
        if let Some(ty) = &c.type_ {
            v.str_len(&format!("{path}.type"), ty, 0, 131072);
        }
        if let Some(cm) = &c.comment {
            v.str_len(&format!("{path}.comment"), cm, 0, 255);
        }
    }
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "databaseName", &input.database_name, true);
    name(&mut v, "name", &input.name, false);
    if let Some(t) = &input.table_input {
        validate_table_input(&mut v, t);
    }
    v.finish()?;
    if input.open_table_format_input.is_some() {
        return Err(CatalogError::InvalidInput(
            "OpenTableFormatInput (Iceberg tables) is not supported.".into(),
        )
        .into());
    }
    let Some(mut table) = input.table_input else {
        return Err(CatalogError::InvalidInput("TableInput is required.".into()).into());
    };
    if let Some(n) = input.name {
        table.name = n;
    }
    catalog.create_table(input.database_name.as_deref().unwrap_or_default(), table)?;
    Ok(Empty {})
}
