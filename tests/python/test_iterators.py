"""GetShardIterator types and their edge cases."""

import datetime as dt
import math
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, assert_client_error, json_call, read_shard, shard_id,
                      stream_arn)


def _put(kinesis, stream, data):
    return kinesis.put_record(StreamName=stream, Data=data, PartitionKey="k")["SequenceNumber"]


def _first_page(kinesis, it):
    return kinesis.get_records(ShardIterator=it)["Records"]


@pytest.fixture
def filled(kinesis, stream):
    seqs = [_put(kinesis, stream, f"r{i}".encode()) for i in range(5)]
    return stream, seqs


def test_trim_horizon(kinesis, filled, addr):
    stream, seqs = filled
    it = kinesis.get_shard_iterator(**addr(stream), ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert isinstance(it, str) and 1 <= len(it) <= 512
    recs = _first_page(kinesis, it)
    assert [r["SequenceNumber"] for r in recs] == seqs


def test_latest(kinesis, filled, addr):
    stream, seqs = filled
    it = kinesis.get_shard_iterator(**addr(stream), ShardId=shard_id(0),
                                    ShardIteratorType="LATEST")["ShardIterator"]
    assert _first_page(kinesis, it) == []
    s = _put(kinesis, stream, b"after-latest")
    recs = _first_page(kinesis, it)
    assert [r["SequenceNumber"] for r in recs] == [s]


def test_at_sequence_number(kinesis, filled, addr):
    stream, seqs = filled
    it = kinesis.get_shard_iterator(**addr(stream), ShardId=shard_id(0),
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=seqs[2])["ShardIterator"]
    assert [r["SequenceNumber"] for r in _first_page(kinesis, it)] == seqs[2:]


def test_after_sequence_number(kinesis, filled, addr):
    stream, seqs = filled
    it = kinesis.get_shard_iterator(**addr(stream), ShardId=shard_id(0),
                                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=seqs[2])["ShardIterator"]
    assert [r["SequenceNumber"] for r in _first_page(kinesis, it)] == seqs[3:]
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=seqs[-1])["ShardIterator"]
    assert _first_page(kinesis, it) == []
    s = _put(kinesis, stream, b"next")
    assert [r["SequenceNumber"] for r in _first_page(kinesis, it)] == [s]


def test_at_timestamp(kinesis, stream, addr):
    s1 = _put(kinesis, stream, b"before")
    # botocore sends timestamps as whole epoch seconds: align on a second boundary.
    boundary = math.floor(time.time()) + 1
    time.sleep(max(0.0, boundary - time.time()) + 0.1)
    s2 = _put(kinesis, stream, b"after")
    s3 = _put(kinesis, stream, b"after2")
    ts = dt.datetime.fromtimestamp(boundary, dt.timezone.utc)
    it = kinesis.get_shard_iterator(**addr(stream), ShardId=shard_id(0),
                                    ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=ts)["ShardIterator"]
    assert [r["SequenceNumber"] for r in _first_page(kinesis, it)] == [s2, s3]
    # A timestamp before everything behaves like TRIM_HORIZON.
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=dt.datetime(2000, 1, 1,
                                                          tzinfo=dt.timezone.utc))["ShardIterator"]
    assert [r["SequenceNumber"] for r in _first_page(kinesis, it)] == [s1, s2, s3]


def test_at_timestamp_fractional_seconds_raw_json(kinesis, stream, endpoint):
    _put(kinesis, stream, b"a")
    time.sleep(0.4)
    t = time.time()
    time.sleep(0.2)
    s2 = _put(kinesis, stream, b"b")
    status, body, _ = json_call(endpoint, "GetShardIterator", {
        "StreamName": stream, "ShardId": shard_id(0), "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": round(t, 3)})
    assert status == 200, body
    recs = _first_page(kinesis, body["ShardIterator"])
    assert [r["SequenceNumber"] for r in recs] == [s2]


def test_at_timestamp_in_future_is_prompt_and_empty(kinesis, filled):
    stream, seqs = filled
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    t0 = time.monotonic()
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=future)["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it)
    assert time.monotonic() - t0 < 3, "future AT_TIMESTAMP must not block"
    assert resp["Records"] == []
    assert resp["NextShardIterator"]
    _put(kinesis, stream, b"now")
    resp = kinesis.get_records(ShardIterator=resp["NextShardIterator"])
    # Records that existed when the iterator was issued are never returned. (Whether a record
    # that arrives later, but before the future timestamp, shows up is not pinned down here.)
    assert [r["Data"] for r in resp["Records"]] in ([], [b"now"])


@pytest.mark.parametrize("ityp", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"])
def test_sequence_types_need_sequence_number(kinesis, stream, ityp):
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0), ShardIteratorType=ityp)
    assert_client_error(e, "InvalidArgumentException", ["StartingSequenceNumber"], message=(
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
        "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        f"Request specified {ityp} and no StartingSequenceNumber."))


@pytest.mark.parametrize("ityp", ["TRIM_HORIZON", "LATEST"])
def test_position_types_reject_sequence_number(kinesis, stream, ityp):
    seq = kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")["SequenceNumber"]
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0), ShardIteratorType=ityp,
                                   StartingSequenceNumber=seq)
    assert_client_error(e, "InvalidArgumentException", ["StartingSequenceNumber"], message=(
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
        "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        f"Request specified {ityp} and also a StartingSequenceNumber."))


def test_at_timestamp_needs_timestamp(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                   ShardIteratorType="AT_TIMESTAMP")
    assert_client_error(e, "InvalidArgumentException", ["timestamp"], message=(
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
        "Current request has no timestamp parameter."))


def test_bad_sequence_number(kinesis, stream, raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                       ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber="not-a-number")
    assert_client_error(e, "ValidationException", ["startingSequenceNumber"], message=(
        "1 validation error detected: Value 'not-a-number' at 'startingSequenceNumber' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})"))


def test_unissued_sequence_number(kinesis, stream):
    seq = "12345"
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=seq)
    assert_client_error(e, "InvalidArgumentException", [seq])


def test_sequence_number_from_other_shard(kinesis, stream4):
    s = kinesis.put_record(StreamName=stream4, Data=b"x", PartitionKey="pk")  # shard 0
    assert s["ShardId"] == shard_id(0)
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream4, ShardId=shard_id(3),
                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=s["SequenceNumber"])
    assert_client_error(e, "InvalidArgumentException", message=(
        f"Invalid StartingSequenceNumber. It encodes {shard_id(0)}, "
        f"while it was used in a call to a shard with {shard_id(3)}"))


def test_unknown_shard(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(7),
                                   ShardIteratorType="TRIM_HORIZON")
    assert_client_error(e, "ResourceNotFoundException", [shard_id(7)], message=(
        f"Shard {shard_id(7)} in stream {stream} under account {ACCOUNT_ID} does not exist"))


def test_unknown_stream(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName="no-such-stream-it", ShardId=shard_id(0),
                                   ShardIteratorType="TRIM_HORIZON")
    assert_client_error(e, "ResourceNotFoundException", ["no-such-stream-it"], message=(
        f"Shard {shard_id(0)} in stream no-such-stream-it under account {ACCOUNT_ID} "
        "does not exist"))


def test_bad_iterator_type(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                       ShardIteratorType="SIDEWAYS")
    assert_client_error(e, "ValidationException", ["shardIteratorType"], message=(
        "1 validation error detected: Value 'SIDEWAYS' at 'shardIteratorType' failed to satisfy "
        "constraint: Member must satisfy enum value set: "
        "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"))


def test_iterators_are_per_shard(kinesis, stream4):
    a = kinesis.put_record(StreamName=stream4, Data=b"zero", PartitionKey="pk")
    b = kinesis.put_record(StreamName=stream4, Data=b"three", PartitionKey="1")
    assert [r["Data"] for r in read_shard(kinesis, stream4, shard_id(0))] == [b"zero"]
    assert [r["Data"] for r in read_shard(kinesis, stream4, shard_id(3))] == [b"three"]
    assert read_shard(kinesis, stream4, shard_id(1)) == []
    assert a["SequenceNumber"] != b["SequenceNumber"]


def test_iterator_by_arn(kinesis, filled):
    stream, seqs = filled
    it = kinesis.get_shard_iterator(StreamARN=stream_arn(stream), ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(_first_page(kinesis, it)) == 5
