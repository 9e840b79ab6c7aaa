//! PutRecord / PutRecordBatch: a DirectPut delivery stream's records are appended to its own
//! shard of the delivery store and acknowledged once the append is durable.

use super::{DeliveryService, PutOutcome};
use crate::model::*;
use crate::pipeline::FirehoseMetric;
use weir_storage::{RecordIn, ShardKey};

impl DeliveryService {
    /// PutRecord / PutRecordBatch: appends to the delivery stream's shard and answers once the
    /// append is durable.
    pub async fn put_records(&self, name: &str, records: &[&[u8]]) -> Result<Vec<PutOutcome>> {
        let entry = self.entry(name)?;
        // The put path reads three fields, not a copy of the whole definition.
        let (uid, status, from_kinesis) = {
            let st = entry.state.lock();
            (st.0.uid, st.0.status, st.0.source.is_some())
        };
        if status == DeliveryStreamStatus::Deleting {
            return Err(self.not_found(name));
        }
        if from_kinesis {
            return Err(Error::InvalidArgument(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
                    .into(),
            ));
        }
        if entry
            .cloudwatch_logs_only
            .load(std::sync::atomic::Ordering::Relaxed)
            && records
                .iter()
                .any(|r| crate::deagg::cloudwatch_logs(r, false).is_err())
        {
            return Err(Error::InvalidSource(
                "Only requests from CloudWatch Logs are supported when CloudWatch Logs decompression is enabled".into(),
            ));
        }
        let key = ShardKey {
            stream: uid,
            shard: 0,
        };
        let ins: Vec<RecordIn> = records
            .iter()
            .map(|d| RecordIn {
                partition_key: "",
                explicit_hash_key: None,
                data: d,
            })
            .collect();
        let appended = match self.inner.store.append(key, &ins) {
            Ok(a) => a,
            Err(e) => return Ok(unavailable(records.len(), &e)),
        };
        if let Err(e) = appended.durable.wait().await {
            return Ok(unavailable(records.len(), &e));
        }
        let bytes: usize = records.iter().map(|r| r.len()).sum();
        self.inner.shared.recorder.record(
            name,
            self.now(),
            &[
                (FirehoseMetric::IncomingRecords, records.len() as f64),
                (FirehoseMetric::IncomingBytes, bytes as f64),
            ],
        );
        Ok((0..records.len() as u64)
            .map(|i| Ok(record_id(uid, appended.first_offset + i)))
            .collect())
    }
}

fn unavailable(n: usize, e: &weir_storage::Error) -> Vec<PutOutcome> {
    tracing::warn!(error = %e, "delivery stream append failed");
    (0..n)
        .map(|_| {
            Err((
                "ServiceUnavailableException".to_string(),
                "Slow down.".to_string(),
            ))
        })
        .collect()
}

/// A RecordId: opaque, unique per delivery stream incarnation and record.
fn record_id(uid: u64, offset: u64) -> String {
    let mut s = format!("{uid:016x}{offset:016x}");
    // AWS's RecordIds are long opaque strings; a fixed tag keeps ours recognisable.
    s.push_str("00000000000000000000000000000000");
    s
}
