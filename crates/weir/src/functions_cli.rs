//! `weir function …`, `weir mapping …` and `weir schedule …`: the functions capability from the
//! command line. Each command is one call to a running weir's AWS APIs (Lambda, EventBridge), so
//! the CLI and boto3 see the same definitions; the output is the API's JSON answer.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct Target {
    /// The weir to talk to.
    #[arg(
        long,
        env = "WEIR_ENDPOINT",
        default_value = "http://127.0.0.1:4567",
        global = true
    )]
    pub endpoint: String,
    /// The server's region (for the ARNs built from names). [default: us-east-1]
    #[arg(long, env = "WEIR_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
    /// The server's account id. [default: 000000000000]
    #[arg(
        long,
        env = "WEIR_ACCOUNT_ID",
        default_value = "000000000000",
        global = true
    )]
    pub account_id: String,
}

#[derive(Debug, Subcommand)]
pub enum FunctionCommand {
    /// Define a function: a command that runs a Lambda runtime client, an HTTP endpoint, or a
    /// zip package for a python3.* / nodejs* / provided.* runtime.
    Create {
        name: String,
        /// The runtime process to start, e.g. "python3 -m awslambdaric app.handler".
        #[arg(long, conflicts_with_all = ["url", "zip"])]
        command: Option<String>,
        /// The command's working directory.
        #[arg(long, requires = "command")]
        cwd: Option<String>,
        /// An HTTP endpoint that takes the event JSON and answers the result.
        #[arg(long, conflicts_with = "zip")]
        url: Option<String>,
        /// A deployment package (with --runtime and --handler).
        #[arg(long, requires_all = ["runtime", "handler"])]
        zip: Option<std::path::PathBuf>,
        #[arg(long)]
        runtime: Option<String>,
        #[arg(long)]
        handler: Option<String>,
        /// Seconds an invocation may run. [default: 3]
        #[arg(long)]
        timeout: Option<u32>,
        /// MB, as a hint. [default: 128]
        #[arg(long)]
        memory: Option<u32>,
        /// Environment variables, KEY=VALUE (repeatable).
        #[arg(long = "env", value_parser = key_value)]
        env: Vec<(String, String)>,
        #[command(flatten)]
        target: Target,
    },
    List {
        #[command(flatten)]
        target: Target,
    },
    Get {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Invoke and print the function's answer.
    Invoke {
        name: String,
        /// The event (JSON). [default: {}]
        #[arg(long, default_value = "{}")]
        payload: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Feed a weir stream to a function (an event-source mapping).
    Create {
        #[arg(long)]
        function: String,
        /// Stream name or ARN.
        #[arg(long)]
        stream: String,
        /// TRIM_HORIZON, LATEST or AT_TIMESTAMP (with --timestamp, epoch seconds).
        #[arg(long, default_value = "LATEST")]
        starting_position: String,
        #[arg(long)]
        timestamp: Option<f64>,
        #[arg(long)]
        batch_size: Option<u32>,
        /// MaximumBatchingWindowInSeconds.
        #[arg(long)]
        batching_window: Option<u32>,
        #[arg(long)]
        parallelization: Option<u32>,
        #[arg(long)]
        bisect: bool,
        #[arg(long)]
        max_retries: Option<i32>,
        #[arg(long)]
        max_record_age: Option<i32>,
        /// A stream ARN or arn:aws:s3:::bucket for records that could not be processed.
        #[arg(long)]
        on_failure: Option<String>,
        #[arg(long)]
        report_batch_item_failures: bool,
        #[arg(long)]
        tumbling_window: Option<u32>,
        /// A Lambda filter pattern (JSON; repeatable).
        #[arg(long)]
        filter: Vec<String>,
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        target: Target,
    },
    List {
        #[arg(long)]
        function: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    Get {
        uuid: String,
        #[command(flatten)]
        target: Target,
    },
    Enable {
        uuid: String,
        #[command(flatten)]
        target: Target,
    },
    Disable {
        uuid: String,
        #[command(flatten)]
        target: Target,
    },
    Delete {
        uuid: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create or replace a schedule rule that invokes a function.
    Put {
        name: String,
        /// rate(5 minutes), cron(0 12 L * ? *) or at(2026-12-24T18:00:00).
        #[arg(long)]
        expression: String,
        #[arg(long)]
        function: String,
        /// JSON sent instead of the Scheduled Event.
        #[arg(long)]
        input: Option<String>,
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        target: Target,
    },
    List {
        #[command(flatten)]
        target: Target,
    },
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=weir/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";

/// One call; Ok = the JSON answer of a 2xx, Err = the API's error, worded.
async fn call(
    endpoint: &str,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: Value,
) -> Result<Value> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", endpoint.trim_end_matches('/')))
        .header("authorization", AUTH)
        .header("x-amz-date", "20260101T000000Z");
    req = match target {
        Some(t) => req
            .header("x-amz-target", t)
            .header("content-type", "application/x-amz-json-1.1"),
        None => req.header("content-type", "application/json"),
    };
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body)?
    };
    let resp = client
        .request(req.body(Full::new(Bytes::from(body)))?)
        .await
        .with_context(|| format!("cannot reach weir at {endpoint}"))?;
    let status = resp.status();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let function_error = resp.headers().contains_key("x-amz-function-error");
    let bytes = resp.into_body().collect().await?.to_bytes();
    let value: Value = if bytes.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    if !status.is_success() {
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        bail!("{}: {message}", kind.unwrap_or_else(|| status.to_string()));
    }
    if function_error {
        bail!("the function failed: {value}");
    }
    Ok(value)
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn stream_arn(t: &Target, stream: &str) -> String {
    if stream.starts_with("arn:") {
        stream.to_string()
    } else {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{stream}",
            t.region, t.account_id
        )
    }
}

pub fn function(cmd: FunctionCommand) -> Result<()> {
    runtime()?.block_on(async {
        let v = match cmd {
            FunctionCommand::Create {
                name,
                command,
                cwd,
                url,
                zip,
                runtime,
                handler,
                timeout,
                memory,
                env,
                target,
            } => {
                let mut vars: serde_json::Map<String, Value> =
                    env.into_iter().map(|(k, v)| (k, json!(v))).collect();
                if let Some(dir) = cwd {
                    vars.insert("WEIR_WORKING_DIRECTORY".into(), json!(dir));
                }
                let mut body = json!({
                    "FunctionName": name,
                    "Role": "arn:aws:iam::000000000000:role/weir",
                    "Environment": {"Variables": vars},
                });
                if let Some(t) = timeout {
                    body["Timeout"] = json!(t);
                }
                if let Some(m) = memory {
                    body["MemorySize"] = json!(m);
                }
                match (command, url, zip) {
                    (Some(c), _, _) => {
                        body["Runtime"] = json!("provided.al2023");
                        body["Handler"] = json!(c);
                        body["Code"] = json!({});
                    }
                    (_, Some(u), _) => {
                        body["Runtime"] = json!("provided.al2023");
                        body["Handler"] = json!(u);
                        body["Code"] = json!({});
                    }
                    (_, _, Some(z)) => {
                        let bytes = std::fs::read(&z)
                            .with_context(|| format!("cannot read {}", z.display()))?;
                        body["Runtime"] = json!(runtime);
                        body["Handler"] = json!(handler);
                        body["Code"] =
                            json!({"ZipFile": base64_simd::STANDARD.encode_to_string(bytes)});
                    }
                    _ => bail!("give --command, --url or --zip"),
                }
                call(
                    &target.endpoint,
                    "POST",
                    "/2015-03-31/functions",
                    None,
                    body,
                )
                .await?
            }
            FunctionCommand::List { target } => {
                call(
                    &target.endpoint,
                    "GET",
                    "/2015-03-31/functions/",
                    None,
                    Value::Null,
                )
                .await?
            }
            FunctionCommand::Get { name, target } => {
                call(
                    &target.endpoint,
                    "GET",
                    &format!("/2015-03-31/functions/{name}"),
                    None,
                    Value::Null,
                )
                .await?
            }
            FunctionCommand::Delete { name, target } => {
                call(
                    &target.endpoint,
                    "DELETE",
                    &format!("/2015-03-31/functions/{name}"),
                    None,
                    Value::Null,
                )
                .await?
            }
            FunctionCommand::Invoke {
                name,
                payload,
                target,
            } => {
                let event: Value =
                    serde_json::from_str(&payload).context("--payload is not JSON")?;
                call(
                    &target.endpoint,
                    "POST",
                    &format!("/2015-03-31/functions/{name}/invocations"),
                    None,
                    event,
                )
                .await?
            }
        };
        print(&v);
        Ok(())
    })
}

pub fn mapping(cmd: MappingCommand) -> Result<()> {
    runtime()?.block_on(async {
        let v = match cmd {
            MappingCommand::Create {
                function, stream, starting_position, timestamp, batch_size, batching_window,
                parallelization, bisect, max_retries, max_record_age, on_failure,
                report_batch_item_failures, tumbling_window, filter, disabled, target,
            } => {
                let mut b = json!({
                    "FunctionName": function,
                    "EventSourceArn": stream_arn(&target, &stream),
                    "StartingPosition": starting_position,
                    "Enabled": !disabled,
                    "BisectBatchOnFunctionError": bisect,
                });
                let mut set = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        b[k] = v;
                    }
                };
                set("StartingPositionTimestamp", timestamp.map(|t| json!(t)));
                set("BatchSize", batch_size.map(|v| json!(v)));
                set("MaximumBatchingWindowInSeconds", batching_window.map(|v| json!(v)));
                set("ParallelizationFactor", parallelization.map(|v| json!(v)));
                set("MaximumRetryAttempts", max_retries.map(|v| json!(v)));
                set("MaximumRecordAgeInSeconds", max_record_age.map(|v| json!(v)));
                set("DestinationConfig", on_failure.map(|d| json!({"OnFailure": {"Destination": d}})));
                set("FunctionResponseTypes", report_batch_item_failures.then(|| json!(["ReportBatchItemFailures"])));
                set("TumblingWindowInSeconds", tumbling_window.map(|v| json!(v)));
                set("FilterCriteria", (!filter.is_empty()).then(|| json!({"Filters": filter.iter().map(|p| json!({"Pattern": p})).collect::<Vec<_>>()})));
                call(&target.endpoint, "POST", "/2015-03-31/event-source-mappings/", None, b).await?
            }
            MappingCommand::List { function, target } => {
                let q = function.map(|f| format!("?FunctionName={f}")).unwrap_or_default();
                call(&target.endpoint, "GET", &format!("/2015-03-31/event-source-mappings/{q}"), None, Value::Null).await?
            }
            MappingCommand::Get { uuid, target } => call(&target.endpoint, "GET", &format!("/2015-03-31/event-source-mappings/{uuid}"), None, Value::Null).await?,
            MappingCommand::Enable { uuid, target } => call(&target.endpoint, "PUT", &format!("/2015-03-31/event-source-mappings/{uuid}"), None, json!({"Enabled": true})).await?,
            MappingCommand::Disable { uuid, target } => call(&target.endpoint, "PUT", &format!("/2015-03-31/event-source-mappings/{uuid}"), None, json!({"Enabled": false})).await?,
            MappingCommand::Delete { uuid, target } => call(&target.endpoint, "DELETE", &format!("/2015-03-31/event-source-mappings/{uuid}"), None, Value::Null).await?,
        };
        print(&v);
        Ok(())
    })
}

pub fn schedule(cmd: ScheduleCommand) -> Result<()> {
    runtime()?.block_on(async {
        let v = match cmd {
            ScheduleCommand::Put {
                name,
                expression,
                function,
                input,
                disabled,
                target,
            } => {
                let rule = call(
                    &target.endpoint,
                    "POST",
                    "/",
                    Some("AWSEvents.PutRule"),
                    json!({
                        "Name": name, "ScheduleExpression": expression,
                        "State": if disabled { "DISABLED" } else { "ENABLED" },
                    }),
                )
                .await?;
                let arn = if function.starts_with("arn:") {
                    function
                } else {
                    format!(
                        "arn:aws:lambda:{}:{}:function:{function}",
                        target.region, target.account_id
                    )
                };
                let mut t = json!({"Id": "1", "Arn": arn});
                if let Some(i) = input {
                    t["Input"] = json!(i);
                }
                call(
                    &target.endpoint,
                    "POST",
                    "/",
                    Some("AWSEvents.PutTargets"),
                    json!({"Rule": name, "Targets": [t]}),
                )
                .await?;
                rule
            }
            ScheduleCommand::List { target } => {
                call(
                    &target.endpoint,
                    "POST",
                    "/",
                    Some("AWSEvents.ListRules"),
                    json!({}),
                )
                .await?
            }
            ScheduleCommand::Delete { name, target } => {
                let targets = call(
                    &target.endpoint,
                    "POST",
                    "/",
                    Some("AWSEvents.ListTargetsByRule"),
                    json!({"Rule": name}),
                )
                .await?;
                let ids: Vec<Value> = targets["Targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t["Id"].clone())
                    .collect();
                if !ids.is_empty() {
                    call(
                        &target.endpoint,
                        "POST",
                        "/",
                        Some("AWSEvents.RemoveTargets"),
                        json!({"Rule": name, "Ids": ids}),
                    )
                    .await?;
                }
                call(
                    &target.endpoint,
                    "POST",
                    "/",
                    Some("AWSEvents.DeleteRule"),
                    json!({"Name": name}),
                )
                .await?
            }
        };
        print(&v);
        Ok(())
    })
}
