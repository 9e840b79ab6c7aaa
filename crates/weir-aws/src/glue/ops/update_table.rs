//! UpdateTable: replaces a table's definition; VersionId, when given, must be the current one
//! (ConcurrentModificationException otherwise), and the new version is one more.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::glue::ops::create_table::validate_table_input;
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
    skip_archive: Option<bool>,
    version_id: Option<String>,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "databaseName", &input.database_name, true);
    name(&mut v, "name", &input.name, false);
    name(&mut v, "versionId", &input.version_id, false);
    if let Some(t) = &input.table_input {
        validate_table_input(&mut v, t);
    }
    v.finish()?;
    // Old versions are not archived (GetTableVersions is not served), so SkipArchive changes
    // nothing.
    let _ = input.skip_archive;
    let Some(mut table) = input.table_input else {
        return Err(CatalogError::InvalidInput("TableInput is required.".into()).into());
    };
    if let Some(n) = input.name {
        table.name = n;
    }
    catalog.update_table(
        input.database_name.as_deref().unwrap_or_default(),
        table,
        input.version_id.as_deref(),
    )?;
    Ok(Empty {})
}
