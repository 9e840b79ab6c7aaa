//! The record processors, in Firehose's order, from source records to partitioned items.

use super::plan::SubRecords;
use super::{ErrorRecord, Item, PartitionKey, Pipeline};
use crate::deagg;
use crate::source::{SourceReader, SourceRecord};
use crate::transform::{self, KinesisRecordMetadata, TransformRecord, TransformResult};
use std::collections::BTreeMap;

struct Unit {
    item: Item,
    partition_key: String,
    lambda_keys: BTreeMap<String, String>,
}

fn failed(
    errors: &mut Vec<ErrorRecord>,
    output_type: &'static str,
    code: &str,
    message: String,
    item: Item,
    lambda_arn: Option<String>,
) {
    errors.push(ErrorRecord {
        lambda_arn,
        ..ErrorRecord::new(output_type, code, message, item)
    });
}

/// Splits `Lambda.Code: text` into its code, as the transform reports failures.
fn lambda_code(message: &str) -> &str {
    match message.split_once(':') {
        Some((code, _)) if code.starts_with("Lambda.") && !code.contains(' ') => code,
        _ => "Lambda.FunctionError",
    }
}

pub(super) async fn run(
    p: &Pipeline,
    records: &[SourceRecord],
    errors: &mut Vec<ErrorRecord>,
) -> Vec<(PartitionKey, Item)> {
    let plan = &p.plan;
    let kinesis = p.reader.is_kinesis();
    // 1. Decompression, 2. KPL de-aggregation.
    let mut units = Vec::with_capacity(records.len());
    for r in records {
        let base = Item {
            data: Vec::new(),
            arrival: r.arrival_millis,
            raw: r.data.clone(),
            shard: r.shard,
            offset: r.offset,
            sequence_number: r.sequence_number.clone(),
            sub_sequence: 0,
        };
        let payloads: Vec<Vec<u8>> = match plan.decompress {
            Some(extract) => match deagg::cloudwatch_logs(&r.data, extract) {
                Ok(v) => v,
                Err(e) => {
                    failed(
                        errors,
                        "processing-failed",
                        "Decompression.NotCloudWatchLogs",
                        e,
                        base,
                        None,
                    );
                    continue;
                }
            },
            None => vec![r.data.to_vec()],
        };
        for data in payloads {
            let users = if kinesis { deagg::kpl(&data) } else { None };
            match users {
                Some(users) => {
                    for u in users {
                        units.push(Unit {
                            item: Item {
                                data: u.data,
                                sub_sequence: u.sub_sequence,
                                ..base.clone()
                            },
                            partition_key: u.partition_key,
                            lambda_keys: BTreeMap::new(),
                        });
                    }
                }
                None => units.push(Unit {
                    item: Item {
                        data,
                        ..base.clone()
                    },
                    partition_key: r.partition_key.clone(),
                    lambda_keys: BTreeMap::new(),
                }),
            }
        }
    }
    // 3. Lambda transform, in batches of about BufferSizeInMBs.
    if let Some(lambda) = &plan.lambda {
        let mut out = Vec::with_capacity(units.len());
        let mut rest = units.into_iter().peekable();
        while rest.peek().is_some() {
            let mut batch = Vec::new();
            let mut bytes = 0;
            while let Some(u) = rest.peek() {
                if !batch.is_empty() && bytes + u.item.data.len() > lambda.batch_bytes {
                    break;
                }
                bytes += u.item.data.len();
                batch.extend(rest.next());
            }
            let input: Vec<TransformRecord> = batch
                .iter()
                .enumerate()
                .map(|(i, u)| TransformRecord {
                    record_id: format!(
                        "{}-{}-{}-{i}",
                        u.item.shard, u.item.offset, u.item.sub_sequence
                    ),
                    arrival_millis: u.item.arrival,
                    data: u.item.data.clone(),
                    kinesis: u
                        .item
                        .sequence_number
                        .as_ref()
                        .map(|s| KinesisRecordMetadata {
                            shard_id: SourceReader::shard_id(u.item.shard),
                            partition_key: u.partition_key.clone(),
                            sequence_number: s.clone(),
                            sub_sequence_number: u.item.sub_sequence,
                            arrival_millis: u.item.arrival,
                        }),
                })
                .collect();
            let result = transform::transform(
                p.shared.invoker.as_ref(),
                &lambda.arn,
                lambda.retries,
                &plan.arn,
                &p.shared.region,
                p.source_arn.as_deref(),
                &input,
            )
            .await;
            match result {
                Ok(results) => {
                    for (u, r) in batch.into_iter().zip(results) {
                        match r {
                            TransformResult::Ok {
                                data,
                                partition_keys,
                            } => out.push(Unit {
                                item: Item { data, ..u.item },
                                lambda_keys: partition_keys,
                                ..u
                            }),
                            TransformResult::Dropped => {}
                            TransformResult::ProcessingFailed { message } => failed(
                                errors,
                                "processing-failed",
                                "Lambda.ProcessingFailedStatus",
                                message,
                                u.item,
                                Some(lambda.arn.clone()),
                            ),
                        }
                    }
                }
                Err(message) => {
                    let code = lambda_code(&message).to_string();
                    for u in batch {
                        failed(
                            errors,
                            "processing-failed",
                            &code,
                            message.clone(),
                            u.item,
                            Some(lambda.arn.clone()),
                        );
                    }
                }
            }
        }
        units = out;
    }
    // 4. RecordDeAggregation.
    if let Some(sub) = &plan.sub_records {
        let mut out = Vec::with_capacity(units.len());
        for u in units {
            let parts = match sub {
                SubRecords::Json => deagg::json_records(&u.item.data),
                SubRecords::Delimited(d) => Ok(deagg::delimited_records(&u.item.data, d)),
            };
            match parts {
                Ok(parts) => {
                    // The pieces carry the record's metadata, not another copy of its bytes.
                    let template = Item {
                        data: Vec::new(),
                        ..u.item
                    };
                    for data in parts {
                        out.push(Unit {
                            item: Item {
                                data,
                                ..template.clone()
                            },
                            partition_key: u.partition_key.clone(),
                            lambda_keys: u.lambda_keys.clone(),
                        });
                    }
                }
                Err(e) => failed(
                    errors,
                    "processing-failed",
                    "RecordDeAggregation.Failed",
                    e,
                    u.item,
                    None,
                ),
            }
        }
        units = out;
    }
    // 5. MetadataExtraction and the partition of each record.
    let mut out = Vec::with_capacity(units.len());
    for u in units {
        if !plan.dynamic_partitioning {
            out.push(((BTreeMap::new(), BTreeMap::new()), u.item));
            continue;
        }
        let query_keys = match &plan.extractor {
            Some(x) => match x.extract(&u.item.data) {
                Ok(k) => k,
                Err(e) => {
                    failed(
                        errors,
                        "partitioning-failed",
                        "DynamicPartitioning.MetadataExtractionFailed",
                        e,
                        u.item,
                        None,
                    );
                    continue;
                }
            },
            None => BTreeMap::new(),
        };
        out.push(((query_keys, u.lambda_keys), u.item));
    }
    out
}
