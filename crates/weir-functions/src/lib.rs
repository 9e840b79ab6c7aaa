//! Function hosting: people's Lambda handlers run unchanged, without containers.
//!
//! A function is a command (a runtime client such as `python3 -m awslambdaric app.handler` or
//! `aws-lambda-ric index.handler`, or a custom runtime's `bootstrap`) or an HTTP endpoint.
//! Command functions run in *sandboxes*: one process each, started on demand, reused while warm, killed when an invocation exceeds its
//! timeout and replaced when it crashes. Each sandbox gets its own Lambda Runtime API listener on
//! loopback (`AWS_LAMBDA_RUNTIME_API`), exactly the API the official runtime clients speak
//! (`/2018-06-01/runtime/invocation/next`, `…/response`, `…/error`, `/runtime/init/error`), so
//! a sandbox can only ever see its own function's invocations and its process is known by the
//! connection it polls on.
//!
//! [`FunctionService`] is the one entry point: the Lambda API front end, Firehose transforms,
//! event-source mappings and schedules all call [`FunctionService::invoke`]. Definitions live in
//! the metadata store; sandboxes are process state and start cold after a restart.

mod error;
mod http_function;
pub mod mappings;
pub mod metrics;
pub mod model;
mod pool;
mod registry;
mod runtime_api;
mod runtimes;
mod sandbox;
pub mod schedules;
mod service;
pub mod triggers;
mod zip_code;

pub use error::{Error, Result};
pub use model::{Code, CreateFunction, FunctionConfig, InvokeOutcome};
pub use service::{FunctionService, FunctionStats, FunctionsConfig};
