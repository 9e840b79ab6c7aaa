//! CreateDatabase: a new, empty database; AlreadyExistsException if the name is taken.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::glue::{catalog_id, name};
use crate::validate::Violations;
use serde::Deserialize;
use std::collections::BTreeMap;
use weir_formats::{Catalog, Database};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    database_input: Option<Database>,
    tags: Option<BTreeMap<String, String>>,
}

pub(crate) fn validate_database_input(v: &mut Violations, input: &Option<Database>) {
    if v.required("databaseInput", input) {
        if let Some(d) = input {
            name(v, "databaseInput.name", &Some(d.name.clone()), true);
            if let Some(desc) = &d.description {
                v.str_len("databaseInput.description", desc, 0, 2048);
            }
            if let Some(uri) = &d.location_uri {
                v.str_len("databaseInput.locationUri", uri, 1, 1024);
            }
        }
    }
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    validate_database_input(&mut v, &input.database_input);
    if let Some(tags) = &input.tags {
        if tags.len() > 50 {
            v.raw(format!("Value '{}' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50", tags.len()));
        }
    }
    v.finish()?;
    let Some(db) = input.database_input else {
        return Err(ApiError::validation("DatabaseInput is required"));
    };
    catalog.create_database(db)?;
    Ok(Empty {})
}
