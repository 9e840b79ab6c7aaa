//! Per-stream settings and account-level operations: retention, enhanced monitoring, encryption,
//! record size, stream mode, resource policies, DescribeLimits and account settings.

use crate::error::{Error, Result};
use crate::model::{AccountSettings, Encryption, StreamMode, StreamStatus};
use crate::service::{StreamRef, StreamService, POLICIES};
use weir_core::limits;
use weir_storage::{Expect, MetaOp};

pub const ALL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

#[derive(Debug, Clone)]
pub struct MonitoringChange {
    pub stream_name: String,
    pub stream_arn: String,
    pub current: Vec<String>,
    pub desired: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

impl StreamService {
    fn require_active(&self, m: &crate::model::StreamMeta) -> Result<()> {
        if m.status != StreamStatus::Active {
            return Err(Error::ResourceInUse(format!(
                "Stream {} under account {} not ACTIVE, instead in state {}",
                m.name,
                self.config().account_id,
                m.status.as_str()
            )));
        }
        Ok(())
    }

    pub fn increase_retention(&self, r: &StreamRef, hours: i64) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            check_retention_bounds(hours)?;
            if hours > limits::MAX_RETENTION_HOURS as i64 {
                return Err(Error::InvalidArgument(format!(
                    "Maximum allowed retention period is {} hours. Requested retention period ({} hours) is too long.",
                    limits::MAX_RETENTION_HOURS, hours
                )));
            }
            if hours < m.retention_hours as i64 {
                return Err(Error::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention period ({} hours). Use DecreaseRetentionPeriod API.",
                    m.name, m.retention_hours
                )));
            }
            m.retention_hours = hours as u32;
            Ok(())
        })
    }

    pub fn decrease_retention(&self, r: &StreamRef, hours: i64) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            check_retention_bounds(hours)?;
            if hours < limits::MIN_RETENTION_HOURS as i64 {
                return Err(Error::InvalidArgument(format!(
                    "Minimum allowed retention period is {} hours. Requested retention period ({} hours) is too short.",
                    limits::MIN_RETENTION_HOURS, hours
                )));
            }
            if hours > m.retention_hours as i64 {
                return Err(Error::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention period ({} hours). Use IncreaseRetentionPeriod API.",
                    m.name, m.retention_hours
                )));
            }
            m.retention_hours = hours as u32;
            Ok(())
        })?;
        // A shorter retention takes effect now, not at the next retention pass.
        self.enforce_retention_for(&stream);
        Ok(())
    }

    /// Enable (`enable = true`) or disable shard-level metrics; `ALL` means every metric.
    pub fn set_enhanced_monitoring(
        &self,
        r: &StreamRef,
        metrics: &[String],
        enable: bool,
    ) -> Result<MonitoringChange> {
        let stream = self.stream(r)?;
        let expand = |names: &[String]| -> Vec<String> {
            if names.iter().any(|n| n == "ALL") {
                ALL_METRICS.iter().map(|s| s.to_string()).collect()
            } else {
                names.to_vec()
            }
        };
        let requested = expand(metrics);
        let (current, desired) = self.update_stream(&stream, |m| {
            let current = m.enhanced_metrics.clone();
            let mut desired: Vec<String> = if enable {
                let mut d = current.clone();
                d.extend(requested.iter().cloned());
                d
            } else {
                current
                    .iter()
                    .filter(|c| !requested.contains(c))
                    .cloned()
                    .collect()
            };
            // Keep AWS's canonical order and no duplicates.
            desired = ALL_METRICS
                .iter()
                .filter(|n| desired.iter().any(|d| d == *n))
                .map(|s| s.to_string())
                .collect();
            m.enhanced_metrics = desired.clone();
            Ok((current, desired))
        })?;
        Ok(MonitoringChange {
            stream_arn: self.stream_arn(&stream.name),
            stream_name: stream.name.clone(),
            current,
            desired,
        })
    }

    pub fn start_encryption(
        &self,
        r: &StreamRef,
        encryption_type: &str,
        key_id: &str,
    ) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            m.encryption = Some(Encryption {
                encryption_type: encryption_type.to_string(),
                key_id: Some(key_id.to_string()),
            });
            Ok(())
        })
    }

    pub fn stop_encryption(&self, r: &StreamRef) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            m.encryption = None;
            Ok(())
        })
    }

    pub fn update_max_record_size(&self, r: &StreamRef, kib: u32) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            m.max_record_size_kib = kib;
            Ok(())
        })
    }

    pub fn update_stream_mode(&self, r: &StreamRef, mode: StreamMode) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            self.require_active(m)?;
            if m.mode == mode {
                return Err(Error::InvalidArgument(format!(
                    "Stream {} under account {} is already in {} mode.",
                    m.name,
                    self.config().account_id,
                    mode.as_str()
                )));
            }
            m.mode = mode;
            Ok(())
        })
    }

    pub fn describe_limits(&self) -> Limits {
        let (open, on_demand) = self.mode_counts();
        Limits {
            shard_limit: self.config().shard_limit,
            open_shard_count: open as u32,
            on_demand_stream_count: on_demand as u32,
            on_demand_stream_count_limit: self.config().on_demand_stream_limit,
        }
    }

    pub fn account_settings(&self) -> AccountSettings {
        self.inner.account.lock().clone()
    }

    pub fn update_account_settings(&self, status: &str) -> Result<AccountSettings> {
        let mut settings = self.inner.account.lock();
        let mut next = settings.clone();
        next.minimum_throughput_billing_commitment = Some(status.to_string());
        next.commitment_started_millis = (status == "ENABLED").then(|| self.now_millis());
        self.save_account(&next)?;
        *settings = next.clone();
        Ok(next)
    }

    /// Resource policies are stored now and enforced by later security work.
    pub fn put_resource_policy(&self, arn: &str, policy: &str) -> Result<()> {
        let r = self.stream_for_resource(arn)?;
        self.stream(&r)?;
        if serde_json::from_str::<serde_json::Value>(policy).is_err() {
            return Err(Error::InvalidArgument("Policy is not valid JSON.".into()));
        }
        self.inner.meta.transact(vec![MetaOp::Put {
            table: POLICIES.into(),
            key: arn.to_string(),
            value: policy.as_bytes().to_vec(),
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    pub fn get_resource_policy(&self, arn: &str) -> Result<String> {
        let r = self.stream_for_resource(arn)?;
        self.stream(&r)?;
        Ok(self
            .inner
            .meta
            .get(POLICIES, arn)?
            .map(|v| String::from_utf8_lossy(&v.value).into_owned())
            .unwrap_or_else(|| "{}".into()))
    }

    pub fn delete_resource_policy(&self, arn: &str) -> Result<()> {
        let r = self.stream_for_resource(arn)?;
        self.stream(&r)?;
        if self.inner.meta.get(POLICIES, arn)?.is_none() {
            return Err(Error::ResourceNotFound(format!(
                "No resource policy found for resource ARN {arn}."
            )));
        }
        self.inner.meta.transact(vec![MetaOp::Delete {
            table: POLICIES.into(),
            key: arn.to_string(),
            expect: Expect::Any,
        }])?;
        Ok(())
    }
}

/// AWS checks the bounds first in both directions: below 24 h, then above 8760 h.
fn check_retention_bounds(hours: i64) -> Result<()> {
    if hours < limits::MIN_RETENTION_HOURS as i64 {
        return Err(Error::InvalidArgument(format!(
            "Minimum allowed retention period is {} hours. Requested retention period ({hours} hours) is too short.",
            limits::MIN_RETENTION_HOURS
        )));
    }
    if hours > limits::MAX_RETENTION_HOURS as i64 {
        return Err(Error::InvalidArgument(format!(
            "Maximum allowed retention period is {} hours. Requested retention period ({hours} hours) is too long.",
            limits::MAX_RETENTION_HOURS
        )));
    }
    Ok(())
}
