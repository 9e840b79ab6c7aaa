//! Functions run as they run on Lambda: unchanged Python handlers under the official runtime
//! client (awslambdaric, through the Runtime API weir serves), warm reuse, timeouts that kill,
//! crashes that restart, init errors that fail the caller, and HTTP-endpoint functions.
//!
//! Needs `python3` with `awslambdaric` (scripts/test installs it); skipped with a message if not.

use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use weir_functions::{Code, CreateFunction, FunctionService, FunctionsConfig};

const HANDLERS: &str = r#"
import json, os, sys, time

COLD = {"start": time.time(), "count": 0}

def echo(event, context):
    COLD["count"] += 1
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "count": COLD["count"],
        "env": os.environ.get("GREETING"),
    }

def slow(event, context):
    time.sleep(event.get("sleep", 10))
    return "done"

def crash(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid()}

def fail(event, context):
    raise ValueError("bad input: " + json.dumps(event))
"#;

fn python_ready() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .status()
        .is_ok_and(|s| s.success())
}

fn service(dir: &Path) -> FunctionService {
    let meta = Arc::new(weir_storage::metadata::MemoryMetadata::new());
    FunctionService::new(
        meta,
        Arc::new(weir_core::SystemClock),
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: dir.join("functions"),
            python: "python3".into(),
            node_ric: "aws-lambda-ric".into(),
            endpoint: None,
        },
    )
}

fn command_function(name: &str, dir: &Path, handler: &str, timeout: u32) -> CreateFunction {
    std::fs::write(dir.join("app.py"), HANDLERS).unwrap();
    CreateFunction {
        name: name.into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        timeout_secs: Some(timeout),
        environment: [("GREETING".to_string(), "hello".to_string())].into(),
        code: Some(Code::Command {
            program: "python3".into(),
            args: vec!["-m".into(), "awslambdaric".into(), format!("app.{handler}")],
            working_dir: Some(dir.to_path_buf()),
        }),
        ..Default::default()
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

macro_rules! require_python {
    () => {
        if !python_ready() {
            eprintln!(
                "skipped: python3 with awslambdaric is not installed (pip install awslambdaric)"
            );
            return;
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_handler_runs_under_awslambdaric_and_stays_warm() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create(command_function("echo", dir.path(), "echo", 5))
        .await
        .unwrap();
    let first = svc
        .invoke("echo", Bytes::from_static(br#"{"n": 1}"#))
        .await
        .unwrap();
    assert!(first.function_error.is_none(), "{first:?}");
    let a = json(&first.payload);
    assert_eq!(a["event"], serde_json::json!({"n": 1}));
    assert_eq!(a["request_id"], first.request_id.as_str());
    assert_eq!(
        a["function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    assert_eq!(a["env"], "hello");
    let remaining = a["remaining_ms"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 5000, "{remaining}");
    // The second invocation reuses the warm sandbox: same process, module state kept.
    let second = svc
        .invoke(
            "arn:aws:lambda:us-east-1:000000000000:function:echo",
            Bytes::from_static(b"[2]"),
        )
        .await
        .unwrap();
    let b = json(&second.payload);
    assert_eq!(b["pid"], a["pid"]);
    assert_eq!(b["count"], 2);
    assert_eq!(svc.sandboxes("echo"), 1);
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_is_a_function_error_with_lambdas_document() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create(command_function("fail", dir.path(), "fail", 5))
        .await
        .unwrap();
    let out = svc
        .invoke("fail", Bytes::from_static(br#"{"x": 1}"#))
        .await
        .unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&out.payload);
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad input: {\"x\": 1}");
    assert!(doc["stackTrace"].is_array());
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_invocation_kills_its_sandbox_and_the_next_one_starts_fresh() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create(command_function("slow", dir.path(), "slow", 1))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let out = svc
        .invoke("slow", Bytes::from_static(br#"{"sleep": 30}"#))
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&out.payload);
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{doc}"
    );
    let quick = svc
        .invoke("slow", Bytes::from_static(br#"{"sleep": 0}"#))
        .await
        .unwrap();
    assert!(quick.function_error.is_none(), "{quick:?}");
    assert_eq!(json(&quick.payload), "done");
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_runtime_fails_its_invocation_and_is_replaced() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create(command_function("crash", dir.path(), "crash", 5))
        .await
        .unwrap();
    let before = json(
        &svc.invoke("crash", Bytes::from_static(b"{}"))
            .await
            .unwrap()
            .payload,
    );
    let crashed = svc
        .invoke("crash", Bytes::from_static(br#"{"crash": true}"#))
        .await
        .unwrap();
    let doc = json(&crashed.payload);
    assert_eq!(doc["errorType"], "Runtime.ExitError", "{doc}");
    assert!(doc["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Runtime exited with error"));
    let after = json(
        &svc.invoke("crash", Bytes::from_static(b"{}"))
            .await
            .unwrap()
            .payload,
    );
    assert_ne!(before["pid"], after["pid"], "a new sandbox");
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_cannot_be_imported_fails_the_caller_instead_of_looping() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let mut def = command_function("missing", dir.path(), "echo", 5);
    def.code = Some(Code::Command {
        program: "python3".into(),
        args: vec![
            "-m".into(),
            "awslambdaric".into(),
            "nosuchmodule.handler".into(),
        ],
        working_dir: Some(dir.path().to_path_buf()),
    });
    svc.create(def).await.unwrap();
    let out = svc
        .invoke("missing", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&out.payload);
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError", "{doc}");
    // Nothing keeps restarting once the queue is empty.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(svc.sandboxes("missing"), 0);
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_get_their_own_sandboxes_up_to_the_reserved_concurrency() {
    require_python!();
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create(command_function("par", dir.path(), "echo", 5))
        .await
        .unwrap();
    svc.set_concurrency("par", Some(2)).unwrap();
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move {
                svc.invoke("par", Bytes::from(format!("{{\"i\": {i}}}")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for c in calls {
        let out = c.await.unwrap();
        assert!(out.function_error.is_none());
        pids.insert(json(&out.payload)["pid"].as_i64().unwrap());
    }
    assert!(
        pids.len() <= 2,
        "at most the reserved concurrency: {pids:?}"
    );
    assert!(svc.sandboxes("par") <= 2);
    svc.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_function_gets_the_event_and_its_answer_is_the_result() {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let fail = req.uri().path() == "/fail";
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let mut out = serde_json::json!({"got": serde_json::from_slice::<serde_json::Value>(&body).unwrap()});
                        let mut resp = http::Response::new(http_body_util::Full::new(Bytes::new()));
                        if fail {
                            out = serde_json::json!({"errorType": "Boom", "errorMessage": "no"});
                            *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        *resp.body_mut() = http_body_util::Full::new(Bytes::from(out.to_string()));
                        Ok::<_, std::convert::Infallible>(resp)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    for (name, path) in [("web", "/ok"), ("webfail", "/fail")] {
        svc.create(CreateFunction {
            name: name.into(),
            role: "r".into(),
            code: Some(Code::Http {
                url: format!("http://{addr}{path}"),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let ok = svc
        .invoke("web", Bytes::from_static(br#"{"a": 1}"#))
        .await
        .unwrap();
    assert!(ok.function_error.is_none());
    assert_eq!(json(&ok.payload), serde_json::json!({"got": {"a": 1}}));
    let bad = svc
        .invoke("webfail", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(bad.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(json(&bad.payload)["errorType"], "Boom");
}

#[tokio::test]
async fn definitions_are_validated_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let def = CreateFunction {
        name: "f".into(),
        role: "r".into(),
        code: Some(Code::Http {
            url: "http://127.0.0.1:1/".into(),
        }),
        ..Default::default()
    };
    let f = svc.create(def.clone()).await.unwrap();
    assert_eq!(f.timeout_secs, 3);
    assert_eq!(f.memory_mb, 128);
    assert!(matches!(
        svc.create(def).await,
        Err(weir_functions::Error::Conflict(_))
    ));
    let no_code = CreateFunction {
        name: "g".into(),
        ..Default::default()
    };
    assert!(matches!(
        svc.create(no_code).await,
        Err(weir_functions::Error::Invalid(_))
    ));
    let zip_without_runtime = CreateFunction {
        name: "h".into(),
        zip_file: Some(vec![1, 2, 3]),
        ..Default::default()
    };
    let err = svc.create(zip_without_runtime).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Runtime and Handler are mandatory parameters for functions created with deployment packages."
    );
    assert_eq!(svc.list().unwrap().len(), 1);
    svc.delete("f").unwrap();
    assert!(matches!(
        svc.get("f"),
        Err(weir_functions::Error::NotFound(arn)) if arn == "arn:aws:lambda:us-east-1:000000000000:function:f"
    ));
}

#[tokio::test]
async fn a_python_package_without_a_usable_interpreter_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(weir_storage::metadata::MemoryMetadata::new());
    let svc = FunctionService::new(
        meta,
        Arc::new(weir_core::SystemClock),
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: dir.path().join("functions"),
            python: dir
                .path()
                .join("no-such-python")
                .to_string_lossy()
                .into_owned(),
            node_ric: "aws-lambda-ric".into(),
            endpoint: None,
        },
    );
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"def handler(e, c):\n    return 1\n").unwrap();
        w.finish().unwrap();
    }
    let err = svc
        .create(CreateFunction {
            name: "py".into(),
            role: "r".into(),
            runtime: Some("python3.12".into()),
            handler: Some("app.handler".into()),
            zip_file: Some(zip),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("need a Python interpreter"),
        "{err}"
    );
}

#[tokio::test]
async fn a_node_package_without_the_runtime_client_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(weir_storage::metadata::MemoryMetadata::new());
    let ric = dir.path().join("no-such-dir").join("aws-lambda-ric");
    let svc = FunctionService::new(
        meta,
        Arc::new(weir_core::SystemClock),
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: dir.path().join("functions"),
            python: "python3".into(),
            node_ric: ric.to_string_lossy().into_owned(),
            endpoint: None,
        },
    );
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("index.js", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"exports.handler = async () => 1;\n").unwrap();
        w.finish().unwrap();
    }
    let err = svc
        .create(CreateFunction {
            name: "node".into(),
            role: "r".into(),
            runtime: Some("nodejs20.x".into()),
            handler: Some("index.handler".into()),
            zip_file: Some(zip),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, weir_functions::Error::Invalid(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot find {}", ric.display())),
        "{message}"
    );
    assert!(
        message.contains("npm install -g aws-lambda-ric@3"),
        "{message}"
    );
    assert!(message.contains("--node-ric"), "{message}");
}
