//! Stream tags: AddTagsToStream / RemoveTagsFromStream / ListTagsForStream and the ARN-addressed
//! TagResource / UntagResource / ListTagsForResource.

use crate::error::{Error, Result};
use crate::service::{StreamRef, StreamService};
use std::collections::BTreeMap;
use weir_core::limits::MAX_TAGS_PER_STREAM;

pub(crate) fn too_many_tags(stream: &str, account: &str) -> Error {
    Error::InvalidArgument(format!(
        "Failed to add tags to stream {stream} under account {account} because a given stream cannot have more than {MAX_TAGS_PER_STREAM} tags associated with it."
    ))
}

impl StreamService {
    pub fn add_tags(&self, r: &StreamRef, tags: BTreeMap<String, String>) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            let mut merged = m.tags.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS_PER_STREAM {
                return Err(too_many_tags(&m.name, &self.config().account_id));
            }
            m.tags = merged;
            Ok(())
        })
    }

    pub fn remove_tags(&self, r: &StreamRef, keys: &[String]) -> Result<()> {
        let stream = self.stream(r)?;
        self.update_stream(&stream, |m| {
            for k in keys {
                m.tags.remove(k);
            }
            Ok(())
        })
    }

    /// ListTagsForStream: tags in key order after `exclusive_start`, at most `limit`.
    pub fn list_tags(
        &self,
        r: &StreamRef,
        exclusive_start: Option<&str>,
        limit: Option<u32>,
    ) -> Result<(Vec<(String, String)>, bool)> {
        let stream = self.stream(r)?;
        let meta = stream.meta();
        let limit = limit.unwrap_or(weir_core::limits::LIST_TAGS_FOR_STREAM_MAX_LIMIT) as usize;
        let mut tags: Vec<(String, String)> = meta
            .tags
            .into_iter()
            .filter(|(k, _)| exclusive_start.is_none_or(|s| k.as_str() > s))
            .collect();
        let more = tags.len() > limit;
        tags.truncate(limit);
        Ok((tags, more))
    }

    /// The stream a ResourceARN names (consumer ARNs arrive with enhanced fan-out).
    pub fn stream_for_resource(&self, arn: &str) -> Result<StreamRef> {
        if self.parse_stream_arn(arn).is_none() {
            return Err(Error::InvalidArgument(format!(
                "Invalid ResourceARN: {arn}"
            )));
        }
        Ok(StreamRef {
            name: None,
            arn: Some(arn.to_string()),
        })
    }
}
