//! The pipeline spawns these futures on tokio and shares extractors across tasks: they must be
//! Send (+ Sync for shared values).

use std::collections::BTreeMap;

use bytes::Bytes;
use weir_delivery::http_endpoint::{deliver, HttpEndpointTarget};
use weir_delivery::partition::Extractor;
use weir_delivery::sink::Buckets;
use weir_delivery::transform::{transform, HttpInvoker, Invoker};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn dlib_futures_are_send() {
    send_sync::<Extractor>();
    send_sync::<Buckets>();
    send_sync::<HttpInvoker>();
    let dir = tempfile::tempdir().unwrap();
    let buckets = Buckets::new(dir.path(), BTreeMap::new());
    let put = buckets.put("b", "k", Bytes::new());
    send(&put);
    let inv = HttpInvoker::new(BTreeMap::new());
    let dyn_inv: &dyn Invoker = &inv;
    let t = transform(dyn_inv, "f", 0, "arn", "us-east-1", None, &[]);
    send(&t);
    let target = HttpEndpointTarget {
        url: String::new(),
        name: None,
        access_key: None,
        common_attributes: vec![],
        gzip: false,
        retry_duration: std::time::Duration::ZERO,
    };
    let d = deliver(&target, "arn", &[]);
    send(&d);
}
