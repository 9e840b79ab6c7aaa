//! Tags and server-side encryption status of delivery streams.

use super::{DeliveryService, MAX_TAGS};
use crate::model::*;

impl DeliveryService {
    pub fn tag(&self, name: &str, tags: Vec<(String, String)>) -> Result<()> {
        self.change(name, |m| {
            let new = tags.iter().filter(|(k, _)| !m.tags.contains_key(k)).count();
            if m.tags.len() + new > MAX_TAGS {
                return Err(Error::LimitExceeded(format!(
                    "Exceeded the maximum number of tags ({MAX_TAGS}) allowed for the delivery stream {}.",
                    m.name
                )));
            }
            m.tags.extend(tags);
            Ok(())
        })?;
        Ok(())
    }

    pub fn untag(&self, name: &str, keys: Vec<String>) -> Result<()> {
        self.change(name, |m| {
            for k in &keys {
                m.tags.remove(k);
            }
            Ok(())
        })?;
        Ok(())
    }

    /// ListTagsForDeliveryStream: tags after `exclusive_start_key`, at most `limit`.
    pub fn list_tags(
        &self,
        name: &str,
        exclusive_start_key: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, String)>, bool)> {
        let m = self.meta_of(name)?;
        // A BTreeMap: the tags are already in key order.
        let after: Vec<(String, String)> = m
            .tags
            .iter()
            .filter(|(k, _)| exclusive_start_key.is_none_or(|s| k.as_str() > s))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let more = after.len() > limit;
        Ok((after.into_iter().take(limit).collect(), more))
    }

    pub fn start_encryption(
        &self,
        name: &str,
        key_type: Option<String>,
        key_arn: Option<String>,
    ) -> Result<()> {
        self.change(name, |m| {
            if m.source.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "Encryption is not supported for delivery stream {} with a Kinesis data stream as source.",
                    m.name
                )));
            }
            m.encryption = EncryptionState {
                status: "ENABLED".into(),
                key_type: Some(key_type.unwrap_or_else(|| "AWS_OWNED_CMK".into())),
                key_arn,
            };
            Ok(())
        })?;
        Ok(())
    }

    pub fn stop_encryption(&self, name: &str) -> Result<()> {
        self.change(name, |m| {
            if m.source.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "Encryption is not supported for delivery stream {} with a Kinesis data stream as source.",
                    m.name
                )));
            }
            m.encryption = EncryptionState::default();
            Ok(())
        })?;
        Ok(())
    }

    /// Whether records put to `name` are encrypted at rest (PutRecord's `Encrypted`).
    pub fn encrypted(&self, name: &str) -> bool {
        self.entry(name)
            .map(|e| e.state.lock().0.encryption.status == "ENABLED")
            .unwrap_or(false)
    }
}
