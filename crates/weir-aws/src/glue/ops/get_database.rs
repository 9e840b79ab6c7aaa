//! GetDatabase: one database's definition.

use crate::error::ApiError;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_formats::{Catalog, Database};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    database: Database,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "name", &input.name, true);
    v.finish()?;
    let database = catalog.get_database(input.name.as_deref().unwrap_or_default())?;
    Ok(Output { database })
}
