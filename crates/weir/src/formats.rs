//! `weir formats convert`: JSON records (one per line on stdin) → one Parquet or ORC file on
//! stdout, with a Glue table's columns as the schema, exactly as a delivery stream's
//! DataFormatConversionConfiguration converts them. Records that do not fit are reported on
//! stderr as JSON lines `{"index": N, "message": "..."}` and left out of the file.
//!
//! ```text
//! weir formats convert --table-json table.json --format parquet < records.jsonl > out.parquet
//! weir formats convert --columns 'id:bigint,tags:array<string>' --format orc < in > out.orc
//! ```

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::io::{Read, Write};
use weir_formats::{Converter, Table};

#[derive(Debug, Args)]
pub struct FormatsArgs {
    #[command(subcommand)]
    command: FormatsCommand,
}

#[derive(Debug, Subcommand)]
enum FormatsCommand {
    /// Convert JSON records read from stdin (one per line) into one file written to stdout.
    Convert(ConvertArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Orc,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// A file holding the Glue table (GetTable's `Table`, or a `TableInput`) as JSON.
    #[arg(long, conflicts_with = "columns")]
    table_json: Option<std::path::PathBuf>,
    /// The columns instead, as `name:type,name:type` (Hive types).
    #[arg(long)]
    columns: Option<String>,
    /// The output format (ignored when --config-json names a serializer).
    #[arg(long, value_enum, default_value = "parquet")]
    format: Format,
    /// The serializer's Compression (Parquet: UNCOMPRESSED, SNAPPY, GZIP; ORC: NONE, ZLIB,
    /// SNAPPY). Default: SNAPPY.
    #[arg(long)]
    compression: Option<String>,
    /// A whole DataFormatConversionConfiguration as JSON (AWS field names), for SerDe options.
    #[arg(long)]
    config_json: Option<String>,
}

pub fn run(args: FormatsArgs) -> Result<()> {
    match args.command {
        FormatsCommand::Convert(a) => convert(a),
    }
}

fn convert(a: ConvertArgs) -> Result<()> {
    let table: Table = match (&a.table_json, &a.columns) {
        (Some(path), _) => {
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let v: serde_json::Value =
                serde_json::from_slice(&text).context("the table file is not JSON")?;
            // GetTable's answer ({"Table": {...}}) or the table itself.
            let mut v = v.get("Table").cloned().unwrap_or(v);
            // `aws glue get-table` prints timestamps as ISO text; conversion needs none of them.
            if let Some(m) = v.as_object_mut() {
                for k in [
                    "CreateTime",
                    "UpdateTime",
                    "LastAccessTime",
                    "LastAnalyzedTime",
                ] {
                    m.remove(k);
                }
            }
            serde_json::from_value(v).context("the table file is not a Glue table")?
        }
        (None, Some(cols)) => Table::from_column_spec("table", cols).map_err(anyhow::Error::msg)?,
        (None, None) => bail!("give the schema with --table-json FILE or --columns SPEC"),
    };
    let config = match &a.config_json {
        Some(text) => serde_json::from_str(text).context("--config-json is not JSON")?,
        None => {
            let mut serde = json!({});
            if let Some(c) = &a.compression {
                serde["Compression"] = json!(c);
            }
            let serializer = match a.format {
                Format::Parquet => json!({"ParquetSerDe": serde}),
                Format::Orc => json!({"OrcSerDe": serde}),
            };
            json!({"OutputFormatConfiguration": {"Serializer": serializer}})
        }
    };
    let converter = Converter::new(&config, &table).map_err(anyhow::Error::msg)?;
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("cannot read stdin")?;
    let records: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    let out = converter.convert(&records).map_err(anyhow::Error::msg)?;
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for (index, message) in &out.failed {
        writeln!(err, "{}", json!({"index": index, "message": message}))?;
    }
    std::io::stdout()
        .write_all(&out.file)
        .context("cannot write stdout")?;
    eprintln!(
        "weir formats: {} records converted, {} failed, {} bytes ({})",
        out.rows,
        out.failed.len(),
        out.file.len(),
        converter.extension()
    );
    Ok(())
}
