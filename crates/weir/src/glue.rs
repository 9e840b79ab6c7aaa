//! `weir glue`: the Glue Data Catalog of a running weir, over its AWS API (`AWSGlue.*`), for
//! setting up format-conversion schemas without the AWS CLI.
//!
//! ```text
//! weir glue create-database --database d
//! weir glue create-table --database d --table t --columns 'a:string,b:bigint,c:array<int>'
//! weir glue get-table --database d --table t
//! ```
//! Answers are printed as the JSON the API returns; errors as `Code: message`.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use weir_formats::Table;

/// weir checks the SigV4 header's shape; signatures are not verified yet.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=weir/20260101/us-east-1/glue/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Args)]
pub struct GlueArgs {
    /// The weir endpoint.
    #[arg(
        long,
        env = "WEIR_ENDPOINT",
        default_value = "http://127.0.0.1:4567",
        global = true
    )]
    endpoint: String,
    #[command(subcommand)]
    command: GlueCommand,
}

#[derive(Debug, Subcommand)]
enum GlueCommand {
    CreateDatabase {
        #[arg(long)]
        database: String,
        #[arg(long)]
        description: Option<String>,
    },
    GetDatabases,
    DeleteDatabase {
        #[arg(long)]
        database: String,
    },
    /// A table whose columns are `name:type,...` (Hive types, as Glue stores them).
    CreateTable {
        #[arg(long)]
        database: String,
        #[arg(long)]
        table: String,
        #[arg(long)]
        columns: String,
        /// StorageDescriptor.Location, e.g. s3://bucket/prefix/
        #[arg(long)]
        location: Option<String>,
    },
    GetTable {
        #[arg(long)]
        database: String,
        #[arg(long)]
        table: String,
    },
    GetTables {
        #[arg(long)]
        database: String,
    },
    DeleteTable {
        #[arg(long)]
        database: String,
        #[arg(long)]
        table: String,
    },
}

pub fn run(args: GlueArgs) -> Result<()> {
    let (op, body) = match args.command {
        GlueCommand::CreateDatabase {
            database,
            description,
        } => {
            let mut input = json!({"Name": database});
            if let Some(d) = description {
                input["Description"] = json!(d);
            }
            ("CreateDatabase", json!({"DatabaseInput": input}))
        }
        GlueCommand::GetDatabases => ("GetDatabases", json!({})),
        GlueCommand::DeleteDatabase { database } => ("DeleteDatabase", json!({"Name": database})),
        GlueCommand::CreateTable {
            database,
            table,
            columns,
            location,
        } => {
            let mut t = Table::from_column_spec(&table, &columns).map_err(anyhow::Error::msg)?;
            if let Some(sd) = t.storage_descriptor.as_mut() {
                sd.location = location;
            }
            (
                "CreateTable",
                json!({"DatabaseName": database, "TableInput": t}),
            )
        }
        GlueCommand::GetTable { database, table } => {
            ("GetTable", json!({"DatabaseName": database, "Name": table}))
        }
        GlueCommand::GetTables { database } => ("GetTables", json!({"DatabaseName": database})),
        GlueCommand::DeleteTable { database, table } => (
            "DeleteTable",
            json!({"DatabaseName": database, "Name": table}),
        ),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, answer) = runtime.block_on(call(&args.endpoint, op, body))?;
    let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    if status != 200 {
        bail!(
            "{}: {}",
            v["__type"].as_str().unwrap_or("error"),
            v["message"]
                .as_str()
                .unwrap_or(&String::from_utf8_lossy(&answer))
        );
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

async fn call(endpoint: &str, op: &str, body: Value) -> Result<(u16, Bytes)> {
    let uri: http::Uri = endpoint.parse().context("--endpoint is not a URL")?;
    if uri.scheme_str() != Some("http") {
        bail!("--endpoint must be an http:// URL");
    }
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = http::Request::post(uri)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSGlue.{op}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTHORIZATION)
        .body(Full::new(Bytes::from(body.to_string())))?;
    let resp = client
        .request(req)
        .await
        .with_context(|| format!("cannot reach weir at {endpoint}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}
