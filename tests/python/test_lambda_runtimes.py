"""Functions in Node.js and Rust, under their official runtime clients, through boto3.

The Lambda developer guide's Kinesis handlers ("Using AWS Lambda with Amazon Kinesis") run
unchanged: the JavaScript one under npm's aws-lambda-ric (Runtime nodejs20.x, a ZipFile package),
the Rust one built with lambda_runtime and aws_lambda_events (examples/lambda-kinesis-rust, zipped
as `bootstrap`, Runtime provided.al2023). aws_lambda_events deserialises strictly, so the Rust run
also proves that weir's Kinesis event has the shape of the real one.

The Go (aws-lambda-go) and Java (aws-lambda-java-runtime-interface-client) clients cannot be
fetched here; a bootstrap that speaks the Runtime API the way they do on the wire stands in for
them (see docs/functions.md, "Runtime API clients").

Needs the Node client from tests/node (`npm ci --prefix tests/node`, done by scripts/test) or
`aws-lambda-ric` on PATH or WEIR_NODE_RIC; the Rust bootstrap beside WEIR_BIN (scripts/test builds
it) or cargo to build it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from weirtest import (ACCOUNT_ID, REGION, REPO_ROOT, ServerStartError, WeirServer, create_stream,
                      make_client, unique_name, unthrottled_args, weir_bin)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/lambda-kinesis-role"

# The JavaScript example of "Using AWS Lambda with Amazon Kinesis" in the Lambda developer guide,
# unchanged; the guide has it saved as index.js and deployed with --handler index.handler.
DOCS_NODE_HANDLER = '''\
// Copyright Amazon.com, Inc. or its affiliates. All Rights Reserved.
// SPDX-License-Identifier: Apache-2.0
exports.handler = async (event, context) => {
  for (const record of event.Records) {
    try {
      console.log(`Processed Kinesis Event - EventID: ${record.eventID}`);
      const recordData = await getRecordDataAsync(record.kinesis);
      console.log(`Record Data: ${recordData}`);
      // TODO: Do interesting work based on the new data
    } catch (err) {
      console.error(`An error occurred ${err}`);
      throw err;
    }
  }
  console.log(`Successfully processed ${event.Records.length} records.`);
};

async function getRecordDataAsync(payload) {
  var data = Buffer.from(payload.data, "base64").toString("utf-8");
  await Promise.resolve(1); //Placeholder for actual async work
  return data;
}
'''

CONTEXT_HANDLER = '''\
export const handler = async (event, context) => {
  if (event.fail) {
    throw new TypeError("asked to fail");
  }
  return {
    event,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    functionName: context.functionName,
    memoryLimitInMB: context.memoryLimitInMB,
    remainingTimeInMillis: context.getRemainingTimeInMillis(),
    region: process.env.AWS_REGION,
  };
};
'''


def node_ric() -> str | None:
    """The Node.js runtime interface client: $WEIR_NODE_RIC, tests/node's, or the one on PATH."""
    candidates = [os.environ.get("WEIR_NODE_RIC"),
                  str(REPO_ROOT / "tests" / "node" / "node_modules" / ".bin" / "aws-lambda-ric"),
                  shutil.which("aws-lambda-ric")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="module")
def server():
    """A server that runs nodejs* functions under the Node client (when there is one)."""
    ric = node_ric()
    args = unthrottled_args() + (["--node-ric", ric] if ric else [])
    s = WeirServer(extra_args=args)
    try:
        s.start()
    except ServerStartError as e:
        s.cleanup()
        pytest.fail(str(e), pytrace=False)
    try:
        yield s
    finally:
        s.cleanup()


@pytest.fixture(scope="module")
def lam(server):
    return boto3.client("lambda", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id="AKIDWEIRTEST", aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture(scope="module")
def kinesis(server):
    return make_client(server.endpoint)


@pytest.fixture
def needs_node():
    if node_ric() is None:
        pytest.skip("the Node.js runtime interface client is not installed: "
                    "npm ci --prefix tests/node (scripts/test does), or set WEIR_NODE_RIC")


def zipped(files: dict[str, bytes | str], executable: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            z.writestr(info, content)
    return buf.getvalue()


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def log_of(server) -> str:
    return Path(server.log_path).read_text(errors="replace")


def map_stream_and_put(lam, kinesis, fn: str, sent: list[str]) -> dict:
    """The guide's steps: a stream, a mapping (batch size 100), records put with put_record."""
    stream = unique_name("runtime-stream")
    create_stream(kinesis, stream, 1)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{stream}"
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=100)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
    for s in sent:
        kinesis.put_record(StreamName=stream, Data=s.encode(), PartitionKey="1")
    return mapping


# ----------------------------------------------------------------------------------- Node.js

def test_the_guides_node_kinesis_handler_runs_unchanged(server, lam, kinesis, needs_node):
    fn = unique_name("node-docs")
    created = lam.create_function(
        FunctionName=fn, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": zipped({"index.js": DOCS_NODE_HANDLER})}, Timeout=30)
    assert created["Runtime"] == "nodejs20.x" and created["Handler"] == "index.handler"
    assert created["State"] == "Active"

    sent = [f"Hello from Node, record {i}." for i in range(5)]
    mapping = map_stream_and_put(lam, kinesis, fn, sent)

    def printed():
        log = log_of(server)
        return [s for s in sent if f"Record Data: {s}" in log]

    wait_for(lambda: len(printed()) == len(sent), what="the handler's console.log lines in weir's log")
    log = log_of(server)
    ids = re.findall(r"Processed Kinesis Event - EventID: (shardId-000000000000:\d+)", log)
    assert len(set(ids)) >= len(sent)
    assert re.search(r"Successfully processed \d+ records\.", log)
    assert "An error occurred" not in log
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    lam.delete_function(FunctionName=fn)


def test_a_node_invoke_returns_the_result_and_the_context_reaches_the_handler(lam, needs_node):
    fn = unique_name("node-context")
    lam.create_function(
        FunctionName=fn, Runtime="nodejs22.x", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zipped({"app.mjs": CONTEXT_HANDLER})}, Timeout=20, MemorySize=256)
    out = lam.invoke(FunctionName=fn, InvocationType="RequestResponse",
                     Payload=json.dumps({"n": 7}).encode())
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    body = json.loads(out["Payload"].read())
    assert body["event"] == {"n": 7}
    assert body["awsRequestId"] == out["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["awsRequestId"])
    assert body["invokedFunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"
    assert body["functionName"] == fn
    assert str(body["memoryLimitInMB"]) == "256"
    assert 0 < body["remainingTimeInMillis"] <= 20_000
    assert body["region"] == REGION

    # A warm second invocation: a new request id, the same sandbox.
    again = json.loads(lam.invoke(FunctionName=fn, Payload=b'{"n": 8}')["Payload"].read())
    assert again["event"] == {"n": 8} and again["awsRequestId"] != body["awsRequestId"]

    bad = lam.invoke(FunctionName=fn, Payload=b'{"fail": true}')
    assert bad["FunctionError"] == "Unhandled"
    err = json.loads(bad["Payload"].read())
    assert err["errorType"] == "TypeError"
    assert err["errorMessage"] == "asked to fail"
    assert isinstance(err.get("trace"), list)
    lam.delete_function(FunctionName=fn)


def test_a_node_function_without_the_client_is_refused_saying_how_to_install_it(tmp_path):
    s = WeirServer(extra_args=unthrottled_args() + ["--node-ric", str(tmp_path / "aws-lambda-ric")])
    try:
        s.start()
        raw = boto3.client("lambda", endpoint_url=s.endpoint, region_name=REGION,
                           aws_access_key_id="a", aws_secret_access_key="b",
                           config=Config(retries={"max_attempts": 1}))
        from botocore.exceptions import ClientError
        with pytest.raises(ClientError) as e:
            raw.create_function(FunctionName="no-ric", Runtime="nodejs20.x", Role=ROLE,
                                Handler="index.handler",
                                Code={"ZipFile": zipped({"index.js": DOCS_NODE_HANDLER})})
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        message = e.value.response["Error"]["Message"]
        assert f"cannot find {tmp_path / 'aws-lambda-ric'}" in message
        assert "npm install -g aws-lambda-ric@3" in message and "--node-ric" in message
        # Runtimes weir has no client for stay refused as before.
        with pytest.raises(ClientError) as e:
            raw.create_function(FunctionName="java", Runtime="java21", Role=ROLE,
                                Handler="example.Handler::handleRequest",
                                Code={"ZipFile": zipped({"a.txt": "x"})})
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert "java21 is not supported" in e.value.response["Error"]["Message"]
    finally:
        s.cleanup()


# -------------------------------------------------------------------------------------- Rust

def rust_bootstrap() -> Path:
    """The example's `bootstrap`, beside the weir binary under test; built when missing."""
    binary = weir_bin().parent / "bootstrap"
    if not binary.exists():
        if shutil.which("cargo") is None:
            pytest.skip(f"{binary} is missing and cargo is not installed to build it")
        env = dict(os.environ, CARGO_TARGET_DIR=str(weir_bin().parent.parent))
        subprocess.run(["cargo", "build", "-p", "lambda-kinesis-rust", "--bin", "bootstrap"],
                       cwd=REPO_ROOT, env=env, check=True, timeout=1500)
    return binary


@pytest.mark.timeout(1800)
def test_the_guides_rust_kinesis_handler_runs_unchanged(server, lam, kinesis):
    package = zipped({"bootstrap": rust_bootstrap().read_bytes()}, executable=("bootstrap",))
    fn = unique_name("rust-docs")
    created = lam.create_function(
        FunctionName=fn, Runtime="provided.al2023", Role=ROLE, Handler="rust.handler",
        Code={"ZipFile": package}, Timeout=30)
    assert created["Runtime"] == "provided.al2023"

    sent = [f"Hello from Rust, record {i}." for i in range(5)]
    mapping = map_stream_and_put(lam, kinesis, fn, sent)

    def printed():
        log = log_of(server)
        return [s for s in sent if f"Data: {s}" in log]

    try:
        wait_for(lambda: len(printed()) == len(sent), what="the handler's tracing lines")
    except AssertionError:
        # A Kinesis event that aws_lambda_events cannot deserialise fails every invocation
        # before the handler runs; weir's log shows lambda_runtime's error.
        raise AssertionError("the Rust handler did not log the records; weir's log ends:\n"
                             + log_of(server)[-4000:]) from None
    log = log_of(server)
    assert re.search(r"EventId: shardId-000000000000:\d+", log)
    assert re.search(r"Successfully processed \d+ records", log)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    lam.delete_function(FunctionName=fn)


# ------------------------------------------------------------- Go's and Java's wire behaviour

# A custom runtime that speaks the Runtime API byte for byte the way aws-lambda-go and the Java
# runtime interface client do where they differ from the clients tested above:
# - Go declares `Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body`
#   on every …/response, so the body is chunked; when the handler's response reader fails
#   half-way, the trailers carry the error (Node.js streaming responses do the same).
# - Go and Java send an X-Ray error cause header of up to 1 MiB on …/error.
# - Both accept nothing but 200 from /next and 202 from a POST, and Go's loop and Java's exit
#   on anything else; so does this bootstrap.
WIRE_CLIENT = r'''#!/usr/bin/env python3
import base64, json, os, socket, sys

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def roundtrip(raw):
    with socket.create_connection((HOST, int(PORT))) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            body += s.recv(65536)
        return status, headers, body

def expect(status, want, what):
    if status != want:
        print(f"unexpected status {status} from {what}", file=sys.stderr)
        sys.exit(1)

while True:
    status, headers, body = roundtrip(
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n"
        b"User-Agent: aws-lambda-go/go1.22.0\r\n\r\n")
    expect(status, 200, "/next")
    rid = headers["lambda-runtime-aws-request-id"]
    int(headers["lambda-runtime-deadline-ms"])
    arn = headers["lambda-runtime-invoked-function-arn"]
    trace = headers["lambda-runtime-trace-id"]
    event = json.loads(body)
    base = f"/2018-06-01/runtime/invocation/{rid}"
    if event["mode"] == "chunked":
        out = json.dumps({"arn": arn, "trace": trace}).encode()
        raw = (f"POST {base}/response HTTP/1.1\r\nHost: x\r\nUser-Agent: aws-lambda-go/go1.22.0\r\n"
               "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
               ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(out), out)
        expect(roundtrip(raw)[0], 202, "/response")
    elif event["mode"] == "reader-fails":
        doc = json.dumps({"errorMessage": "unexpected EOF", "errorType": "errorString"})
        raw = (f"POST {base}/response HTTP/1.1\r\nHost: x\r\nUser-Agent: aws-lambda-go/go1.22.0\r\n"
               "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
               "7\r\npartial\r\n0\r\n"
               "Lambda-Runtime-Function-Error-Type: errorString\r\n"
               f"Lambda-Runtime-Function-Error-Body: {base64.b64encode(doc.encode()).decode()}\r\n\r\n"
               ).encode()
        expect(roundtrip(raw)[0], 202, "/response")
    else:
        doc = json.dumps({"errorMessage": "boom", "errorType": "java.lang.IllegalStateException",
                          "stackTrace": ["example.Handler.handleRequest(Handler.java:12)"]}).encode()
        frames = [{"label": f"frame{i}", "path": "Handler.java", "line": i} for i in range(12000)]
        cause = json.dumps({"working_directory": "/var/task", "paths": ["Handler.java"],
                            "exceptions": [{"type": "java.lang.IllegalStateException",
                                            "message": "boom", "stack": frames}]})
        assert 512 * 1024 < len(cause) < 1024 * 1024
        raw = (f"POST {base}/error HTTP/1.1\r\nHost: x\r\nUser-Agent: aws-lambda-java/corretto-21\r\n"
               "Content-Type: application/json\r\n"
               "Lambda-Runtime-Function-Error-Type: java.lang.IllegalStateException\r\n"
               f"Lambda-Runtime-Function-XRay-Error-Cause: {cause}\r\n"
               f"Content-Length: {len(doc)}\r\n\r\n").encode() + doc
        expect(roundtrip(raw)[0], 202, "/error")
'''


def test_go_and_java_client_wire_behaviour_is_understood(server, lam):
    fn = unique_name("wire")
    lam.create_function(
        FunctionName=fn, Runtime="provided.al2023", Role=ROLE, Handler="unused",
        Code={"ZipFile": zipped({"bootstrap": WIRE_CLIENT}, executable=("bootstrap",))},
        Timeout=20)

    ok = lam.invoke(FunctionName=fn, Payload=b'{"mode": "chunked"}')
    assert "FunctionError" not in ok, ok["Payload"].read()
    body = json.loads(ok["Payload"].read())
    assert body["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn}"
    assert body["trace"].startswith("Root=1-")

    half = lam.invoke(FunctionName=fn, Payload=b'{"mode": "reader-fails"}')
    assert half["FunctionError"] == "Unhandled"
    assert json.loads(half["Payload"].read()) == {"errorMessage": "unexpected EOF",
                                                  "errorType": "errorString"}

    java = lam.invoke(FunctionName=fn, Payload=b'{"mode": "xray"}')
    assert java["FunctionError"] == "Unhandled"
    err = json.loads(java["Payload"].read())
    assert err["errorType"] == "java.lang.IllegalStateException", err
    assert err["errorMessage"] == "boom"

    # One sandbox answered all three: the client never got a status that made it exit.
    import requests
    metrics = requests.get(f"{server.endpoint}/metrics", timeout=10).text
    assert re.search(rf'^weir_lambda_cold_starts_total{{function_name="{fn}"}} 1$', metrics, re.M)
    lam.delete_function(FunctionName=fn)
