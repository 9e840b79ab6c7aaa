//! UpdateStreamMode: PROVISIONED ⇄ ON_DEMAND, addressed by StreamARN.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::{StreamModeDetailsIn, STREAM_MODES};
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::{StreamMode, StreamRef, StreamService};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_mode_details: Option<StreamModeDetailsIn>,
    #[allow(dead_code)]
    warm_throughput_mi_bps: Option<i64>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("streamARN", &input.stream_arn) {
        v.stream_arn("streamARN", &input.stream_arn);
    }
    if v.required("streamModeDetails", &input.stream_mode_details) {
        let m = input
            .stream_mode_details
            .as_ref()
            .and_then(|m| m.stream_mode.clone());
        if v.required("streamModeDetails.streamMode", &m) {
            v.one_of(
                "streamModeDetails.streamMode",
                m.as_deref().unwrap_or(""),
                &STREAM_MODES,
            );
        }
    }
    v.finish()?;
    let mode = match input
        .stream_mode_details
        .and_then(|m| m.stream_mode)
        .as_deref()
    {
        Some("ON_DEMAND") => StreamMode::OnDemand,
        _ => StreamMode::Provisioned,
    };
    let r = StreamRef {
        name: None,
        arn: input.stream_arn,
    };
    svc.update_stream_mode(&r, mode)?;
    Ok(Empty {})
}
