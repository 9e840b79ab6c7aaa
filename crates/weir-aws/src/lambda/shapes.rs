//! Lambda's response shapes, as botocore models them.

use serde_json::{json, Value};
use weir_functions::mappings::EventSourceMapping;
use weir_functions::FunctionConfig;

/// `FunctionConfiguration`.
pub(crate) fn function_configuration(f: &FunctionConfig) -> Value {
    let mut v = json!({
        "FunctionName": f.name,
        "FunctionArn": f.arn,
        "Role": f.role,
        "CodeSize": f.code_size,
        "Description": f.description,
        "Timeout": f.timeout_secs,
        "MemorySize": f.memory_mb,
        "LastModified": f.last_modified,
        "CodeSha256": f.code_sha256,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": f.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", f.name)},
    });
    if let Some(r) = &f.runtime {
        v["Runtime"] = json!(r);
    }
    if let Some(h) = &f.handler {
        v["Handler"] = json!(h);
    }
    if !f.environment.is_empty() {
        v["Environment"] = json!({"Variables": f.environment});
    }
    v
}

/// `EventSourceMappingConfiguration`.
pub(crate) fn mapping_configuration(m: &EventSourceMapping, arn: &str, state: &str) -> Value {
    let mut v = json!({
        "UUID": m.uuid,
        "StartingPosition": m.starting_position.as_str(),
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.max_batching_window_secs,
        "ParallelizationFactor": m.parallelization_factor,
        "EventSourceArn": m.event_source_arn,
        "FunctionArn": m.function_arn,
        "LastModified": m.last_modified_millis as f64 / 1000.0,
        "LastProcessingResult": m.last_processing_result,
        "State": state,
        "StateTransitionReason": "User action",
        "DestinationConfig": {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": m.max_record_age_secs,
        "BisectBatchOnFunctionError": m.bisect_on_error,
        "MaximumRetryAttempts": m.max_retry_attempts,
        "TumblingWindowInSeconds": m.tumbling_window_secs,
        "FunctionResponseTypes": if m.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
        "EventSourceMappingArn": arn,
    });
    if let Some(ts) = m.starting_position_timestamp {
        v["StartingPositionTimestamp"] = json!(ts as f64 / 1000.0);
    }
    if let Some(d) = &m.on_failure {
        v["DestinationConfig"] = json!({"OnFailure": {"Destination": d}});
    }
    if !m.filters.is_empty() {
        v["FilterCriteria"] =
            json!({"Filters": m.filters.iter().map(|p| json!({"Pattern": p})).collect::<Vec<_>>()});
    }
    v
}
