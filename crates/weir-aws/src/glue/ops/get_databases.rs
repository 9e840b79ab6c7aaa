//! GetDatabases: every database, in name order, paged by MaxResults/NextToken.

use crate::error::ApiError;
use crate::glue::{catalog_id, page, page_size};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_formats::{Catalog, Database};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    resource_share_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    database_list: Vec<Database>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    let size = page_size(&mut v, input.max_results);
    if let Some(t) = &input.resource_share_type {
        v.one_of("resourceShareType", t, &["FOREIGN", "ALL", "FEDERATED"]);
    }
    v.finish()?;
    // Shared (FOREIGN) databases do not exist here: that view is empty.
    let all = match input.resource_share_type.as_deref() {
        Some("FOREIGN") | Some("FEDERATED") => Vec::new(),
        _ => catalog.databases()?,
    };
    let (database_list, next_token) =
        page(all, |d| d.name.as_str(), input.next_token.as_deref(), size);
    Ok(Output {
        database_list,
        next_token,
    })
}
