//! CreateEventSourceMapping, GetEventSourceMapping, ListEventSourceMappings,
//! UpdateEventSourceMapping, DeleteEventSourceMapping.

use super::shapes::mapping_configuration;
use super::{json_body, Answer, LambdaError, Result};
use serde_json::{json, Map, Value};
use weir_functions::mappings::model::*;
use weir_functions::mappings::{CreateMapping, EventSourceMappings};

fn type_error(key: &str, want: &str) -> LambdaError {
    LambdaError::new(
        "InvalidRequestContentException",
        400,
        format!("Could not parse request body into json: {key} must be {want}"),
    )
}

fn int(m: &Map<String, Value>, key: &str, member: &str, min: i64, max: i64) -> Result<Option<i64>> {
    let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let v = v.as_i64().ok_or_else(|| type_error(key, "an integer"))?;
    if v < min {
        return Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if v > max {
        return Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(Some(v))
}

fn boolean(m: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(type_error(key, "a boolean")),
    }
}

fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(type_error(key, "a string")),
    }
}

fn decode(m: &Map<String, Value>) -> Result<CreateMapping> {
    let filters = match m.get("FilterCriteria") {
        None | Some(Value::Null) => None,
        Some(fc) => Some(
            fc.get("Filters")
                .and_then(Value::as_array)
                .map(|fs| {
                    fs.iter()
                        .filter_map(|f| {
                            f.get("Pattern").and_then(Value::as_str).map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
    };
    let on_failure = match m.get("DestinationConfig") {
        None | Some(Value::Null) => None,
        Some(d) => Some(
            d.get("OnFailure")
                .and_then(|o| o.get("Destination"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
    };
    let starting_position_timestamp = match m.get("StartingPositionTimestamp") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            (v.as_f64()
                .ok_or_else(|| type_error("StartingPositionTimestamp", "a timestamp"))?
                * 1000.0) as i64,
        ),
    };
    let types = match m.get("FunctionResponseTypes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| type_error("FunctionResponseTypes", "a list of strings"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(type_error("FunctionResponseTypes", "a list")),
    };
    Ok(CreateMapping {
        function_name: string(m, "FunctionName")?.unwrap_or_default(),
        event_source_arn: string(m, "EventSourceArn")?.unwrap_or_default(),
        enabled: boolean(m, "Enabled")?,
        batch_size: int(m, "BatchSize", "batchSize", 1, MAX_BATCH_SIZE as i64)?.map(|v| v as u32),
        max_batching_window_secs: int(
            m,
            "MaximumBatchingWindowInSeconds",
            "maximumBatchingWindowInSeconds",
            0,
            MAX_BATCHING_WINDOW_SECS as i64,
        )?
        .map(|v| v as u32),
        starting_position: string(m, "StartingPosition")?,
        starting_position_timestamp,
        parallelization_factor: int(
            m,
            "ParallelizationFactor",
            "parallelizationFactor",
            1,
            MAX_PARALLELIZATION as i64,
        )?
        .map(|v| v as u32),
        bisect_on_error: boolean(m, "BisectBatchOnFunctionError")?,
        max_retry_attempts: int(
            m,
            "MaximumRetryAttempts",
            "maximumRetryAttempts",
            -1,
            MAX_RETRY_ATTEMPTS as i64,
        )?
        .map(|v| v as i32),
        max_record_age_secs: int(
            m,
            "MaximumRecordAgeInSeconds",
            "maximumRecordAgeInSeconds",
            -1,
            MAX_RECORD_AGE_SECS as i64,
        )?
        .map(|v| v as i32),
        on_failure,
        function_response_types: types,
        tumbling_window_secs: int(
            m,
            "TumblingWindowInSeconds",
            "tumblingWindowInSeconds",
            0,
            MAX_TUMBLING_WINDOW_SECS as i64,
        )?
        .map(|v| v as u32),
        filters,
    })
}

fn answer(svc: &EventSourceMappings, status: u16, m: &EventSourceMapping, state: &str) -> Answer {
    Answer::json(status, &mapping_configuration(m, &svc.arn(&m.uuid), state))
}

pub(crate) fn create(svc: &EventSourceMappings, body: &[u8]) -> Result<Answer> {
    let m = json_body(body)?;
    if string(&m, "FunctionName")?.is_none() {
        return Err(LambdaError::validation("1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null"));
    }
    let req = decode(&m)?;
    if req.event_source_arn.is_empty() {
        return Err(LambdaError::invalid(
            "Unrecognized event source, must be kinesis, dynamodb stream or sqs.",
        ));
    }
    if !req.event_source_arn.starts_with("arn:aws:kinesis:") {
        return Err(LambdaError::invalid(format!(
            "weir's event-source mappings read weir (Kinesis) streams; {} is not a Kinesis stream ARN",
            req.event_source_arn
        )));
    }
    let created = svc.create(req)?;
    let state = if created.enabled {
        "Creating"
    } else {
        "Disabled"
    };
    Ok(answer(svc, 202, &created, state))
}

pub(crate) fn get(svc: &EventSourceMappings, uuid: &str) -> Result<Answer> {
    let m = svc.get(uuid)?;
    Ok(answer(svc, 200, &m, m.state()))
}

pub(crate) fn list(svc: &EventSourceMappings, query: &[(String, String)]) -> Result<Answer> {
    let q = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let all = svc.list(q("FunctionName"), q("EventSourceArn"))?;
    let max = q("MaxItems")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 10_000);
    let start = q("Marker")
        .and_then(|m| all.iter().position(|x| x.uuid == m))
        .map_or(0, |i| i + 1);
    let page: Vec<_> = all.iter().skip(start).take(max).collect();
    let mut v = json!({
        "EventSourceMappings": page.iter().map(|m| mapping_configuration(m, &svc.arn(&m.uuid), m.state())).collect::<Vec<_>>(),
    });
    if start + page.len() < all.len() {
        if let Some(last) = page.last() {
            v["NextMarker"] = json!(last.uuid);
        }
    }
    Ok(Answer::json(200, &v))
}

pub(crate) fn update(svc: &EventSourceMappings, uuid: &str, body: &[u8]) -> Result<Answer> {
    let m = json_body(body)?;
    let req = decode(&m)?;
    if req.starting_position.is_some() {
        return Err(LambdaError::invalid("StartingPosition cannot be updated."));
    }
    let updated = svc.update(uuid, req)?;
    let state = if updated.enabled {
        "Updating"
    } else {
        "Disabling"
    };
    Ok(answer(svc, 202, &updated, state))
}

pub(crate) fn delete(svc: &EventSourceMappings, uuid: &str) -> Result<Answer> {
    let m = svc.delete(uuid)?;
    Ok(answer(svc, 202, &m, "Deleting"))
}
