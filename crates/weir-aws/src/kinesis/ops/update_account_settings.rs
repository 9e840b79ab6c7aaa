//! UpdateAccountSettings: sets MinimumThroughputBillingCommitment.Status (ENABLED / DISABLED).

use super::describe_account_settings::Output;
use crate::error::ApiError;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    minimum_throughput_billing_commitment: Option<CommitmentIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CommitmentIn {
    status: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    let path = "minimumThroughputBillingCommitment";
    if v.required(path, &input.minimum_throughput_billing_commitment) {
        let c = input.minimum_throughput_billing_commitment.as_ref();
        let status = c.and_then(|c| c.status.clone());
        let spath = format!("{path}.status");
        if v.required(&spath, &status) {
            v.one_of(
                &spath,
                status.as_deref().unwrap_or(""),
                &["ENABLED", "DISABLED"],
            );
        }
    }
    v.finish()?;
    let status = input
        .minimum_throughput_billing_commitment
        .and_then(|c| c.status)
        .unwrap_or_default();
    Ok(Output::of(svc.update_account_settings(&status)?))
}
