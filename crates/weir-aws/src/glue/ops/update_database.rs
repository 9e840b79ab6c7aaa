//! UpdateDatabase: replaces a database's definition (its name and CreateTime stay).

use crate::codec::Empty;
use crate::error::ApiError;
use crate::glue::ops::create_database::validate_database_input;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::Deserialize;
use weir_formats::{Catalog, CatalogError, Database};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    name: Option<String>,
    database_input: Option<Database>,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "name", &input.name, true);
    validate_database_input(&mut v, &input.database_input);
    v.finish()?;
    let (Some(db), Some(input_db)) = (input.name, input.database_input) else {
        return Err(ApiError::validation("Name and DatabaseInput are required"));
    };
    if !input_db.name.eq_ignore_ascii_case(&db) {
        // Renaming is not something weir's catalog does.
        return Err(CatalogError::InvalidInput(format!(
            "Renaming database {db} to {} is not supported.",
            input_db.name
        ))
        .into());
    }
    catalog.update_database(&db, input_db)?;
    Ok(Empty {})
}
