"""application/x-amz-cbor-1.1 (what the AWS Java SDKs and KCL send)."""

import os
import time

import cbor2
import pytest

from weirtest import (CBOR_CT, Tag, cbor_call, cbor_decode, raw_call, read_shard, shard_id,
                      unique_name, wait_active)


def enc(obj) -> bytes:
    return cbor2.dumps(obj)


def indefinite_map(pairs) -> bytes:
    """A CBOR indefinite-length map (0xBF ... 0xFF), as Jackson writes them."""
    out = b"\xbf"
    for k, v in pairs:
        out += cbor2.dumps(k) + cbor2.dumps(v)
    return out + b"\xff"


def millis(value):
    """Epoch millis from a CBOR timestamp: bare number or tag 1 around one."""
    if isinstance(value, Tag):
        assert value.tag == 1, value
        value = value.value
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return value


def ok(status, body, r):
    assert status == 200, (status, body)
    assert r.headers.get("Content-Type", "").startswith(CBOR_CT), r.headers
    assert isinstance(body, dict)
    return body


@pytest.fixture
def cbor_stream(endpoint, kinesis):
    name = unique_name("cbor")
    ok(*cbor_call(endpoint, "CreateStream", enc({"StreamName": name, "ShardCount": 1})))
    wait_active(kinesis, name)
    yield name
    kinesis.delete_stream(StreamName=name)


def test_cbor_create_describe(endpoint, cbor_stream):
    body = ok(*cbor_call(endpoint, "DescribeStreamSummary", enc({"StreamName": cbor_stream})))
    s = body["StreamDescriptionSummary"]
    assert s["StreamName"] == cbor_stream
    assert s["StreamStatus"] == "ACTIVE"
    assert s["OpenShardCount"] == 1
    created = millis(s["StreamCreationTimestamp"])
    assert abs(created - time.time() * 1000) < 120_000, "timestamps are epoch millis in CBOR"


def test_cbor_put_get_roundtrip(endpoint, kinesis, cbor_stream):
    payload = bytes(range(256)) + os.urandom(5000)
    before_ms = time.time() * 1000 - 5000
    put = ok(*cbor_call(endpoint, "PutRecord", enc(
        {"StreamName": cbor_stream, "Data": payload, "PartitionKey": "pk"})))
    assert put["ShardId"] == shard_id(0)
    assert isinstance(put["SequenceNumber"], str) and put["SequenceNumber"].isdigit()
    it = ok(*cbor_call(endpoint, "GetShardIterator", enc(
        {"StreamName": cbor_stream, "ShardId": shard_id(0),
         "ShardIteratorType": "TRIM_HORIZON"})))["ShardIterator"]
    assert isinstance(it, str)
    got = ok(*cbor_call(endpoint, "GetRecords", enc({"ShardIterator": it})))
    assert len(got["Records"]) == 1
    rec = got["Records"][0]
    assert isinstance(rec["Data"], bytes), "Data must be a CBOR byte string"
    assert rec["Data"] == payload
    assert rec["PartitionKey"] == "pk"
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    ts = millis(rec["ApproximateArrivalTimestamp"])
    assert before_ms <= ts <= time.time() * 1000 + 5000, ts
    assert isinstance(got["MillisBehindLatest"], int)
    assert isinstance(got["NextShardIterator"], str)
    # The same record read over JSON is byte-identical.
    assert [r["Data"] for r in read_shard(kinesis, cbor_stream, shard_id(0))] == [payload]


def test_cbor_put_records_and_json_interop(endpoint, kinesis, cbor_stream):
    datas = [b"", b"\x00\xff", os.urandom(100), "ü".encode()]
    body = ok(*cbor_call(endpoint, "PutRecords", enc({
        "StreamName": cbor_stream,
        "Records": [{"Data": d, "PartitionKey": f"k{i}"} for i, d in enumerate(datas)]})))
    assert body["FailedRecordCount"] == 0
    assert len(body["Records"]) == 4
    # A record written over JSON is read back as bytes over CBOR.
    kinesis.put_record(StreamName=cbor_stream, Data=b"from-json", PartitionKey="j")
    it = ok(*cbor_call(endpoint, "GetShardIterator", enc(
        {"StreamName": cbor_stream, "ShardId": shard_id(0),
         "ShardIteratorType": "TRIM_HORIZON"})))["ShardIterator"]
    got = ok(*cbor_call(endpoint, "GetRecords", enc({"ShardIterator": it, "Limit": 100})))
    assert [r["Data"] for r in got["Records"]] == datas + [b"from-json"]


def test_cbor_indefinite_length_map(endpoint, kinesis, cbor_stream):
    body = ok(*cbor_call(endpoint, "PutRecord", indefinite_map(
        [("StreamName", cbor_stream), ("PartitionKey", "k"), ("Data", b"indef")])))
    assert body["ShardId"] == shard_id(0)
    body = ok(*cbor_call(endpoint, "ListStreams", indefinite_map([("Limit", 100)])))
    assert isinstance(body["StreamNames"], list)
    assert [r["Data"] for r in read_shard(kinesis, cbor_stream, shard_id(0))] == [b"indef"]


def test_cbor_indefinite_length_byte_string(endpoint, kinesis, cbor_stream):
    data_item = b"\x5f" + cbor2.dumps(b"chunk1-") + cbor2.dumps(b"chunk2") + b"\xff"
    body = b"\xa3" + cbor2.dumps("StreamName") + cbor2.dumps(cbor_stream) + \
        cbor2.dumps("PartitionKey") + cbor2.dumps("k") + cbor2.dumps("Data") + data_item
    ok(*cbor_call(endpoint, "PutRecord", body))
    assert [r["Data"] for r in read_shard(kinesis, cbor_stream, shard_id(0))] == [b"chunk1-chunk2"]


@pytest.mark.parametrize("form", ["tag1_int_millis", "bare_int_millis", "tag1_float_millis"])
def test_cbor_at_timestamp(endpoint, kinesis, cbor_stream, form):
    kinesis.put_record(StreamName=cbor_stream, Data=b"before", PartitionKey="k")
    time.sleep(0.3)
    t_ms = int(time.time() * 1000)
    time.sleep(0.3)
    kinesis.put_record(StreamName=cbor_stream, Data=b"after", PartitionKey="k")
    ts = {"tag1_int_millis": cbor2.CBORTag(1, t_ms),
          "bare_int_millis": t_ms,
          "tag1_float_millis": cbor2.CBORTag(1, float(t_ms))}[form]
    it = ok(*cbor_call(endpoint, "GetShardIterator", enc({
        "StreamName": cbor_stream, "ShardId": shard_id(0), "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": ts})))["ShardIterator"]
    got = ok(*cbor_call(endpoint, "GetRecords", enc({"ShardIterator": it})))
    assert [r["Data"] for r in got["Records"]] == [b"after"]


def test_cbor_error_response(endpoint):
    name = unique_name("missing")
    status, body, r = cbor_call(endpoint, "DescribeStreamSummary", enc({"StreamName": name}))
    assert status == 400
    assert r.headers.get("Content-Type", "").startswith(CBOR_CT)
    assert body["__type"].split("#")[-1] == "ResourceNotFoundException"
    assert name in (body.get("message") or body.get("Message"))


def test_cbor_validation_error(endpoint, cbor_stream):
    status, body, r = cbor_call(endpoint, "PutRecord", enc(
        {"StreamName": cbor_stream, "Data": b"x", "PartitionKey": ""}))
    assert status == 400
    assert r.headers.get("Content-Type", "").startswith(CBOR_CT)
    assert body["__type"] == "ValidationException"
    assert "partitionKey" in (body.get("message") or body.get("Message"))


def test_cbor_malformed_body(endpoint):
    for junk in (b"\xff\xff\xff", b"\xa1\x63abc", b"\x1f"):
        r = raw_call(endpoint, "ListStreams", junk, content_type=CBOR_CT)
        assert r.status_code == 400, r.content
        assert r.headers.get("Content-Type", "").startswith(CBOR_CT)
        body = cbor_decode(r.content)
        assert body["__type"] == "SerializationException"


def test_cbor_unknown_operation(endpoint):
    r = raw_call(endpoint, None, enc({}), content_type=CBOR_CT,
                 target="Kinesis_20131202.NoSuchOp")
    assert r.status_code == 400
    body = cbor_decode(r.content)
    assert body["__type"] == "UnknownOperationException"
