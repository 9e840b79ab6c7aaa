//! A function's definition, as stored, and what an invocation returns.
//!
//! The fields mirror Lambda's `FunctionConfiguration`; [`Code`] says how weir runs it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Lambda's defaults and limits (CreateFunction).
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
pub const MAX_TIMEOUT_SECS: u32 = 900;
pub const DEFAULT_MEMORY_MB: u32 = 128;
pub const MIN_MEMORY_MB: u32 = 128;
pub const MAX_MEMORY_MB: u32 = 10_240;
/// Synchronous invocation payload limit, request and response (6 MB).
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Asynchronous (`Event`) invocation payload limit (1 MB since 2025; 256 KB before).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Sandboxes a function may run at once when it has no reserved concurrency.
pub const DEFAULT_CONCURRENCY: u32 = 10;

/// How weir runs a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Code {
    /// A runtime process: `program args…` in `working_dir`, polling the Runtime API.
    Command {
        program: String,
        args: Vec<String>,
        working_dir: Option<PathBuf>,
    },
    /// A deployment package unpacked into `dir`; how it starts depends on the runtime
    /// (`python3.*`: `python3 -m awslambdaric <Handler>`; `nodejs*`: `aws-lambda-ric <Handler>`;
    /// `provided*`: `./bootstrap`). See `runtimes.rs`.
    Package { dir: PathBuf },
    /// An HTTP endpoint: weir POSTs the event JSON and reads the response.
    Http { url: String },
}

/// A stored function definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    /// Reserved concurrency: the most sandboxes at once (None = [`DEFAULT_CONCURRENCY`]).
    pub reserved_concurrency: Option<u32>,
    pub code: Code,
    /// Base64 SHA-256 of the deployment package (or of the command / URL).
    pub code_sha256: String,
    pub code_size: u64,
    /// `2026-12-01T08:00:00.000+0000`, as Lambda writes it.
    pub last_modified: String,
    pub revision_id: String,
}

impl FunctionConfig {
    /// The most invocations that may run at once.
    pub fn concurrency(&self) -> u32 {
        self.reserved_concurrency
            .unwrap_or(DEFAULT_CONCURRENCY)
            .max(1)
    }
}

/// A CreateFunction request, already decoded.
#[derive(Debug, Clone, Default)]
pub struct CreateFunction {
    pub name: String,
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub timeout_secs: Option<u32>,
    pub memory_mb: Option<u32>,
    pub environment: BTreeMap<String, String>,
    /// A zip deployment package (`Code.ZipFile`).
    pub zip_file: Option<Vec<u8>>,
    /// weir's extension for functions defined by a command or a URL (see [`Code`]).
    pub code: Option<Code>,
}

/// What an invocation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutcome {
    /// The function's response, or its error document when `function_error` is set.
    pub payload: Vec<u8>,
    /// `Unhandled` when the function failed (Lambda's `X-Amz-Function-Error`).
    pub function_error: Option<String>,
    pub request_id: String,
}

impl InvokeOutcome {
    /// A failure of the function, with Lambda's error document.
    pub fn failed(request_id: &str, error_type: &str, message: String) -> Self {
        let doc = serde_json::json!({"errorType": error_type, "errorMessage": message});
        InvokeOutcome {
            payload: serde_json::to_vec(&doc).unwrap_or_default(),
            function_error: Some("Unhandled".into()),
            request_id: request_id.to_string(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.function_error.is_some()
    }
}
