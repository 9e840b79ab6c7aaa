//! DeleteTable: removes one table.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::Deserialize;
use weir_formats::Catalog;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    database_name: Option<String>,
    name: Option<String>,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "databaseName", &input.database_name, true);
    name(&mut v, "name", &input.name, true);
    v.finish()?;
    catalog.delete_table(
        input.database_name.as_deref().unwrap_or_default(),
        input.name.as_deref().unwrap_or_default(),
    )?;
    Ok(Empty {})
}
