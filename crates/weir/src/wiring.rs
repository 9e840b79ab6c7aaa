//! Adapters that let one service use another without the crates depending on each other:
//! delivery streams convert records with the Glue catalog's tables, and call their Lambda-style
//! transforms through weir's function service.

use std::sync::Arc;
use weir_delivery::pipeline::{Converted, FormatConversion};
use weir_delivery::transform::{BoxFuture, HttpInvoker, Invoker};

/// DataFormatConversionConfiguration with the schema from weir's Glue Data Catalog, as
/// Firehose takes it from AWS Glue.
pub struct GlueConversion(pub Arc<weir_formats::Catalog>);

impl FormatConversion for GlueConversion {
    fn convert(&self, config: &serde_json::Value, records: &[&[u8]]) -> Result<Converted, String> {
        let schema = &config["SchemaConfiguration"];
        let (Some(database), Some(table)) = (
            schema["DatabaseName"].as_str(),
            schema["TableName"].as_str(),
        ) else {
            return Err("SchemaConfiguration needs DatabaseName and TableName.".into());
        };
        let found = self.0.table(database, table).ok_or_else(|| {
            format!("Table {table} in database {database} was not found in the Glue Data Catalog.")
        })?;
        let converter = weir_formats::Converter::new(config, &found)?;
        let out = converter.convert(records)?;
        Ok(Converted {
            file: out.file,
            failed: out.failed,
            extension: converter.extension(),
        })
    }
}

/// Transforms run as weir functions (any kind: Python handlers, commands, HTTP endpoints); a
/// name the function service does not know falls back to the `--function NAME=URL` map.
pub struct FunctionInvoker {
    pub functions: weir_functions::FunctionService,
    pub fallback: HttpInvoker,
}

impl Invoker for FunctionInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(async move {
            if self.functions.get(function).is_err() {
                return self.fallback.invoke(function, payload).await;
            }
            let outcome = self
                .functions
                .invoke(function, payload.into())
                .await
                .map_err(|e| e.to_string())?;
            if outcome.is_error() {
                return Err(format!(
                    "Lambda.FunctionError: {}",
                    String::from_utf8_lossy(&outcome.payload)
                ));
            }
            Ok(outcome.payload)
        })
    }
}
