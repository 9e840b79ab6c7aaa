//! GetTables: a database's tables in name order, filtered by Expression, paged.

use crate::error::ApiError;
use crate::glue::{catalog_id, name, page, page_size};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_formats::{Catalog, Table};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    catalog_id: Option<String>,
    database_name: Option<String>,
    expression: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    table_list: Vec<Table>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn handle(catalog: &Catalog, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    catalog_id(&mut v, catalog, &input.catalog_id)?;
    name(&mut v, "databaseName", &input.database_name, true);
    if let Some(e) = &input.expression {
        v.str_len("expression", e, 0, 2048);
    }
    let size = page_size(&mut v, input.max_results);
    v.finish()?;
    let all = catalog.tables(
        input.database_name.as_deref().unwrap_or_default(),
        input.expression.as_deref(),
    )?;
    let (table_list, next_token) =
        page(all, |t| t.name.as_str(), input.next_token.as_deref(), size);
    Ok(Output {
        table_list,
        next_token,
    })
}
