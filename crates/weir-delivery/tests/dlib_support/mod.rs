//! A tiny HTTP/1.1 server on 127.0.0.1:0 for the transform and HTTP endpoint tests: every request
//! is recorded, and a handler decides the answer.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// The answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);
type Handler = Arc<dyn Fn(usize, &Received) -> Answer + Send + Sync>;

/// A running server; dropped = stopped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server; `handler(n, request)` answers the n-th request (0-based).
    pub async fn start(
        handler: impl Fn(usize, &Received) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let rec = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let rec = rec.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let rec = rec.clone();
                        let handler = handler.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let r = Received {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_string(),
                                headers: parts.headers,
                                body,
                            };
                            let n = {
                                let mut g = rec.lock().unwrap();
                                g.push(r.clone());
                                g.len() - 1
                            };
                            let (status, headers, body) = handler(n, &r);
                            let mut resp = hyper::Response::builder().status(status);
                            for (k, v) in headers {
                                resp = resp.header(k, v);
                            }
                            Ok::<_, Infallible>(resp.body(Full::new(Bytes::from(body))).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn json_answer(status: u16, v: serde_json::Value) -> Answer {
    (
        status,
        vec![("content-type", "application/json".to_string())],
        v.to_string().into_bytes(),
    )
}
