//! The Glue Data Catalog front end: `X-Amz-Target: AWSGlue.<Operation>` (awsJson1.1), the
//! database and table operations Firehose's format conversion needs, so that
//! `boto3.client('glue', endpoint_url=...)` and `aws glue ...` can define the schemas.
//!
//! State lives in [`weir_formats::Catalog`] (weir's metadata store); this module only decodes,
//! validates with Glue's wording, calls it and encodes. Catalog calls are synchronous metadata
//! transactions (an fsync each), so they run on the blocking pool, and a panic in one becomes a
//! 500 for that request only.

pub mod ops;

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::server::{error_response, full, Body, Router};
use crate::validate::Violations;
use bytes::Bytes;
use http::{HeaderValue, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use weir_formats::{Catalog, CatalogError};

pub const TARGET_PREFIX: &str = "AWSGlue";

impl Router {
    /// Serves the Glue operations from `catalog`.
    pub fn with_glue(mut self, catalog: Arc<Catalog>) -> Self {
        self.glue = Some(catalog);
        self
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let (code, status) = match &e {
            CatalogError::EntityNotFound(_) => ("EntityNotFoundException", 400),
            CatalogError::AlreadyExists(_) => ("AlreadyExistsException", 400),
            CatalogError::InvalidInput(_) => ("InvalidInputException", 400),
            CatalogError::ConcurrentModification(_) => ("ConcurrentModificationException", 400),
            CatalogError::Internal(_) => ("InternalServiceException", 500),
        };
        let mut api = ApiError::new(code, e.to_string());
        api.status = status;
        api
    }
}

macro_rules! operations {
    ($($name:literal => $module:ident),* $(,)?) => {
        pub fn is_operation(op: &str) -> bool {
            matches!(op, $($name)|*)
        }

        fn dispatch(catalog: &Catalog, op: &str, enc: Encoding, body: &[u8]) -> Result<Vec<u8>, ApiError> {
            match op {
                $($name => call(catalog, enc, body, ops::$module::handle),)*
                _ => Err(ApiError::new("UnknownOperationException", "")),
            }
        }
    };
}

operations! {
    "CreateDatabase" => create_database,
    "GetDatabase" => get_database,
    "GetDatabases" => get_databases,
    "UpdateDatabase" => update_database,
    "DeleteDatabase" => delete_database,
    "CreateTable" => create_table,
    "GetTable" => get_table,
    "GetTables" => get_tables,
    "UpdateTable" => update_table,
    "DeleteTable" => delete_table,
}

fn call<I, O>(
    catalog: &Catalog,
    enc: Encoding,
    body: &[u8],
    handler: fn(&Catalog, I) -> Result<O, ApiError>,
) -> Result<Vec<u8>, ApiError>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let input: I = codec::decode(enc, body)?;
    let output = handler(catalog, input)?;
    Ok(codec::encode(enc, &output))
}

/// Answers one Glue request (the server has read the body and checked its size).
pub async fn respond(
    router: &Router,
    op: &str,
    enc: Encoding,
    headers: &http::HeaderMap,
    query: Option<&str>,
    body: Bytes,
) -> Response<Body> {
    let Some(catalog) = router.glue.clone() else {
        return error_response(enc, &ApiError::new("UnknownOperationException", ""));
    };
    if !is_operation(op) {
        return error_response(enc, &ApiError::new("UnknownOperationException", ""));
    }
    if body.is_empty() {
        return error_response(enc, &ApiError::serialization(""));
    }
    if let Err(e) = crate::auth::check(headers, query) {
        return error_response(enc, &e);
    }
    let op = op.to_string();
    match tokio::task::spawn_blocking(move || dispatch(&catalog, &op, enc, &body)).await {
        Ok(Ok(bytes)) => {
            let mut resp = Response::new(full(bytes));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(enc.content_type()),
            );
            resp
        }
        Ok(Err(e)) => error_response(enc, &e),
        Err(join) => {
            tracing::error!(error = %join, "Glue operation panicked");
            let mut e = ApiError::new("InternalServiceException", "");
            e.status = 500;
            error_response(enc, &e)
        }
    }
}

/// Glue's single-line string pattern (NameString, CatalogIdString, ...).
pub const SINGLE_LINE_PATTERN: &str =
    "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*";

fn single_line(s: &str) -> bool {
    s.chars().all(|c| c == '\t' || !c.is_control())
}

/// A NameString member: pattern, then length 1..=255, as Glue lists them.
pub(crate) fn name(v: &mut Violations, path: &str, value: &Option<String>, required: bool) {
    if required && !v.required(path, value) {
        return;
    }
    if let Some(s) = value {
        v.pattern(path, s, single_line(s), SINGLE_LINE_PATTERN);
        v.str_len(path, s, 1, 255);
    }
}

/// CatalogId: weir holds one catalog, the account's own.
pub(crate) fn catalog_id(
    v: &mut Violations,
    catalog: &Catalog,
    value: &Option<String>,
) -> Result<(), ApiError> {
    name(v, "catalogId", value, false);
    match value {
        Some(id) if v.is_empty() && id != catalog.account_id() => {
            Err(ApiError::from(CatalogError::InvalidInput(format!(
                "Catalog {id} is not available; this endpoint holds only catalog {}.",
                catalog.account_id()
            ))))
        }
        _ => Ok(()),
    }
}

/// Page size: MaxResults 1..=100 (CatalogGetterPageSize), 100 when absent.
pub(crate) fn page_size(v: &mut Violations, max_results: Option<i64>) -> usize {
    if let Some(m) = max_results {
        v.range_i64("maxResults", m, 1, 100);
    }
    max_results.unwrap_or(100).clamp(1, 100) as usize
}

/// One page of `items` (in name order) after `next_token` (the last name of the previous
/// page), and the token for the next page.
pub(crate) fn page<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    next_token: Option<&str>,
    size: usize,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|t| next_token.is_none_or(|tok| name(t) > tok))
        .collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let token = if more {
        rest.last().map(|t| name(t).to_string())
    } else {
        None
    };
    (rest, token)
}
