//! GetTable: one table's definition, with its VersionId.

use crate::error::ApiError;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_formats::{Catalog, Table};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    database_name: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    table: Table,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "databaseName", &input.database_name, true);
    name(&mut v, "name", &input.name, true);
    v.finish()?;
    let table = catalog.get_table(
        input.database_name.as_deref().unwrap_or_default(),
        input.name.as_deref().unwrap_or_default(),
    )?;
    Ok(Output { table })
}
