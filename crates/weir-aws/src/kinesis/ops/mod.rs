//! One module per Kinesis operation, each `decode → validate → apply → encode`, plus the model
//! checks several operations share.

pub mod add_tags_to_stream;
pub mod create_stream;
pub mod decrease_stream_retention_period;
pub mod delete_resource_policy;
pub mod delete_stream;
pub mod deregister_stream_consumer;
pub mod describe_account_settings;
pub mod describe_limits;
pub mod describe_stream;
pub mod describe_stream_consumer;
pub mod describe_stream_summary;
pub mod disable_enhanced_monitoring;
pub mod enable_enhanced_monitoring;
pub mod get_records;
pub mod get_resource_policy;
pub mod get_shard_iterator;
pub mod increase_stream_retention_period;
pub mod list_shards;
pub mod list_stream_consumers;
pub mod list_streams;
pub mod list_tags_for_resource;
pub mod list_tags_for_stream;
pub mod merge_shards;
pub mod put_record;
pub mod put_records;
pub mod put_resource_policy;
pub mod register_stream_consumer;
pub mod remove_tags_from_stream;
pub mod split_shard;
pub mod start_stream_encryption;
pub mod stop_stream_encryption;
pub mod subscribe_to_shard;
pub mod tag_resource;
pub mod untag_resource;
pub mod update_account_settings;
pub mod update_max_record_size;
pub mod update_shard_count;
pub mod update_stream_mode;

use crate::error::ApiError;
use crate::kinesis::shapes::tag_chars_ok;
use crate::validate::{self, Violations};
use serde::Serialize;
use std::collections::HashMap;
use weir_core::HashKey;
use weir_streams::settings::{MonitoringChange, ALL_METRICS};

/// Checks an ExplicitHashKey's pattern now; its range (< 2^128) is checked after validation,
/// because AWS reports it as an InvalidArgumentException rather than a model violation.
pub(crate) fn explicit_hash_key(
    v: &mut Violations,
    path: &str,
    key: &Option<String>,
) -> Result<Option<HashKey>, ApiError> {
    let Some(k) = key else { return Ok(None) };
    let shape_ok = validate::is_hash_key_shape(k);
    v.pattern(path, k, shape_ok, validate::HASH_KEY_PATTERN);
    if !shape_ok {
        return Ok(None);
    }
    put_record::parse_hash_key(k).map(Some)
}

fn java_map(tags: &HashMap<String, String>) -> String {
    let body: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", body.join(", "))
}

pub(crate) fn validate_tag_map(
    v: &mut Violations,
    path: &str,
    tags: &HashMap<String, String>,
    min: usize,
) {
    let shown = java_map(tags);
    v.list_len(path, tags.len(), min, 200, &shown);
    if tags.keys().any(|k| k.is_empty() || k.chars().count() > 128) {
        v.raw(format!("Value '{shown}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"));
    }
    if tags.values().any(|val| val.chars().count() > 256) {
        v.raw(format!("Value '{shown}' at '{path}' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]"));
    }
}

pub(crate) fn validate_tag_keys(v: &mut Violations, path: &str, keys: &[String]) {
    let shown = format!("[{}]", keys.join(", "));
    v.list_len(path, keys.len(), 1, 50, &shown);
    if keys.iter().any(|k| k.is_empty() || k.chars().count() > 128) {
        v.raw(format!("Value '{shown}' at '{path}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"));
    }
}

pub(crate) fn validate_resource_arn(v: &mut Violations, arn: &Option<String>) {
    if v.required("resourceARN", arn) {
        v.str_len("resourceARN", arn.as_deref().unwrap_or(""), 1, 2048);
    }
}

pub(crate) fn validate_metrics(v: &mut Violations, metrics: &[String]) {
    let shown = format!("[{}]", metrics.join(", "));
    v.list_len("shardLevelMetrics", metrics.len(), 1, 7, &shown);
    let mut allowed: Vec<&str> = ALL_METRICS.to_vec();
    allowed.push("ALL");
    for (i, m) in metrics.iter().enumerate() {
        v.one_of(&format!("shardLevelMetrics.{}.member", i + 1), m, &allowed);
    }
}

/// Tag characters AWS refuses are an InvalidArgumentException, checked after model validation.
pub(crate) fn check_tag_chars<'a>(
    mut tags: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<(), ApiError> {
    if tags.any(|(k, v)| !tag_chars_ok(k) || !tag_chars_ok(v)) {
        return Err(ApiError::invalid_argument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.",
        ));
    }
    Ok(())
}

/// Enable/DisableEnhancedMonitoring's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    current_shard_level_metrics: Vec<String>,
    desired_shard_level_metrics: Vec<String>,
}

impl From<MonitoringChange> for MonitoringOutput {
    fn from(c: MonitoringChange) -> Self {
        Self {
            stream_name: c.stream_name,
            stream_arn: c.stream_arn,
            current_shard_level_metrics: c.current,
            desired_shard_level_metrics: c.desired,
        }
    }
}
