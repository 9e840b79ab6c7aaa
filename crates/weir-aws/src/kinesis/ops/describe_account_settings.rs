//! DescribeAccountSettings: the MinimumThroughputBillingCommitment (accepted and echoed; weir
//! has no bill).

use crate::error::ApiError;
use crate::types::Timestamp;
use serde::{Deserialize, Serialize};
use weir_streams::model::AccountSettings;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
pub struct Input {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum_throughput_billing_commitment: Option<Commitment>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Commitment {
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
}

impl Output {
    pub fn of(s: AccountSettings) -> Self {
        Output {
            minimum_throughput_billing_commitment: Some(Commitment {
                status: s
                    .minimum_throughput_billing_commitment
                    .unwrap_or_else(|| "DISABLED".into()),
                started_at: s.commitment_started_millis.map(Timestamp),
            }),
        }
    }
}

pub async fn handle(svc: StreamService, _: Input) -> Result<Output, ApiError> {
    Ok(Output::of(svc.account_settings()))
}
