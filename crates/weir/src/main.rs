//! The `weir` binary: `weir serve` runs the server; more subcommands (bench, ...) join it.

mod alloc;
mod bench;
mod config;
mod data_dir;
mod formats;
mod functions_cli;
mod glue;
mod serve;
mod tls;
mod wiring;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "weir",
    version,
    about = "weir: a durable, self-hosted data-ingestion server that speaks the AWS Kinesis Data Streams API.",
    long_about = "weir: a durable, self-hosted data-ingestion server that speaks the AWS Kinesis Data Streams API.\n\nPoint the AWS CLI, boto3 or an AWS SDK at it by changing the endpoint URL:\n  weir serve\n  aws --endpoint-url http://127.0.0.1:4567 kinesis list-streams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (127.0.0.1:4567, data in ./weir-data, no configuration needed).
    Serve(config::ServeArgs),
    /// Load a Kinesis-compatible endpoint (weir, kinesalite, kinesis-mock, ...) and report
    /// records/s, MB/s, latencies and resource use.
    Bench(bench::BenchArgs),
    /// Define, list, invoke and delete functions on a running weir.
    #[command(subcommand)]
    Function(functions_cli::FunctionCommand),
    /// Event-source mappings: weir streams feeding functions.
    #[command(subcommand)]
    Mapping(functions_cli::MappingCommand),
    /// Schedule rules (rate, cron, at) that invoke functions.
    #[command(subcommand)]
    Schedule(functions_cli::ScheduleCommand),
    /// Record format conversion as Firehose does it: `weir formats convert` turns JSON records
    /// into a Parquet or ORC file using a Glue table's columns.
    Formats(formats::FormatsArgs),
    /// The Glue Data Catalog of a running weir: create-database, create-table, get-table, ...
    Glue(glue::GlueArgs),
}

fn main() -> std::process::ExitCode {
    alloc::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => config::ServeConfig::from_args(args).and_then(serve::run),
        Command::Bench(args) => bench::run(args),
        Command::Function(cmd) => functions_cli::function(cmd),
        Command::Mapping(cmd) => functions_cli::mapping(cmd),
        Command::Schedule(cmd) => functions_cli::schedule(cmd),
        Command::Formats(args) => formats::run(args),
        Command::Glue(args) => glue::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
