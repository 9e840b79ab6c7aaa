//! UntagDeliveryStream: removes tags by key (absent keys are ignored).

use crate::codec::Empty;
use crate::error::ApiError;
use crate::firehose::shapes;
use crate::validate::Violations;
use serde::Deserialize;
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if v.required("tagKeys", &input.tag_keys) {
        let keys = input.tag_keys.as_deref().unwrap_or(&[]);
        v.list_len(
            "tagKeys",
            keys.len(),
            1,
            50,
            &format!("[{}]", keys.join(", ")),
        );
        for (i, k) in keys.iter().enumerate() {
            v.str_len(&format!("tagKeys.{}.member", i + 1), k, 1, 128);
        }
    }
    v.finish()?;
    svc.untag(
        input.delivery_stream_name.as_deref().unwrap_or(""),
        input.tag_keys.unwrap_or_default(),
    )?;
    Ok(Empty {})
}
