"""Input validation: error type (Code), HTTP 400, and a message that names the field.

Client-side validation is turned off (`raw_kinesis`) so the server's own checks run.
Exact messages are asserted where /work/notes/kinesis-errors.md has AWS-captured text;
elsewhere the error type and the field named in the message are asserted.
"""

import pytest
import requests
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, HASH_MAX, JSON_CT, MiB, assert_client_error, assert_raw_error,
                      b64, json_call, not_found_msg, raw_call, shard_id, stream_arn, unique_name,
                      validation_msg)

VALIDATION = "ValidationException"
INVALID_ARG = "InvalidArgumentException"
EITHER = {VALIDATION, INVALID_ARG}
NAME_PATTERN = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
HASH_PATTERN = "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"


# ------------------------------------------------------------- CreateStream
@pytest.mark.parametrize("name", ["bad name!", "slash/name", "ünïcode"])
def test_create_stream_bad_name_pattern(raw_kinesis, name):
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=name, ShardCount=1)
    assert_client_error(e, VALIDATION, ["streamName"],
                        message=validation_msg((name, "streamName", NAME_PATTERN)))


def test_create_stream_name_too_long(raw_kinesis):
    name = "a" * 129
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=name, ShardCount=1)
    assert_client_error(e, VALIDATION, ["streamName"], message=validation_msg(
        (name, "streamName", "Member must have length less than or equal to 128")))


def test_create_stream_name_empty(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName="", ShardCount=1)
    assert_client_error(e, VALIDATION, ["streamName"], message=validation_msg(
        ("", "streamName", NAME_PATTERN),
        ("", "streamName", "Member must have length greater than or equal to 1")))


def test_create_stream_name_max_length_ok(kinesis):
    name = ("mx-" + "a" * 125)[:128]
    assert len(name) == 128
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name,
                                             WaiterConfig={"Delay": 0.25, "MaxAttempts": 60})
    kinesis.delete_stream(StreamName=name)


@pytest.mark.parametrize("count", [0, -1])
def test_create_stream_shard_count_not_positive(raw_kinesis, count):
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=unique_name("v"), ShardCount=count)
    assert_client_error(e, VALIDATION, ["shardCount"], message=validation_msg(
        (str(count), "shardCount", "Member must have value greater than or equal to 1")))


def test_create_stream_provisioned_without_shard_count(raw_kinesis):
    name = unique_name("v")
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert_client_error(e, EITHER, ["shardCount"])
    # Nothing was created.
    with pytest.raises(ClientError) as e:
        raw_kinesis.describe_stream_summary(StreamName=name)
    assert_client_error(e, "ResourceNotFoundException")


def test_create_stream_bad_stream_mode(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=unique_name("v"), ShardCount=1,
                                  StreamModeDetails={"StreamMode": "SOMETIMES"})
    assert_client_error(e, VALIDATION, ["streamMode"])


def test_create_stream_missing_name(endpoint):
    status, body, r = json_call(endpoint, "CreateStream", {"ShardCount": 1})
    assert_raw_error(status, body, r, VALIDATION, ["streamName"], message=validation_msg(
        (None, "streamName", "Member must not be null")))


@pytest.mark.parametrize("size", [1023, 10241])
def test_create_stream_bad_max_record_size(raw_kinesis, size):
    with pytest.raises(ClientError) as e:
        raw_kinesis.create_stream(StreamName=unique_name("v"), ShardCount=1,
                                  MaxRecordSizeInKiB=size)
    assert_client_error(e, VALIDATION, ["maxRecordSizeInKiB"])


# ----------------------------------------------------------------- PutRecord
def test_put_record_empty_partition_key(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="")
    assert_client_error(e, VALIDATION, ["partitionKey"], message=validation_msg(
        ("", "partitionKey", "Member must have length greater than or equal to 1")))


def test_put_record_partition_key_too_long(raw_kinesis, stream):
    pk = "k" * 257
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey=pk)
    assert_client_error(e, VALIDATION, ["partitionKey"], message=validation_msg(
        (pk, "partitionKey", "Member must have length less than or equal to 256")))


def test_put_record_partition_key_256_unicode_ok(kinesis, stream):
    # The limit is in Unicode characters, not bytes.
    kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="ü" * 256)


def test_put_record_missing_members(endpoint, stream):
    status, body, r = json_call(endpoint, "PutRecord", {"StreamName": stream, "Data": b64(b"x")})
    assert_raw_error(status, body, r, VALIDATION, ["partitionKey"], message=validation_msg(
        (None, "partitionKey", "Member must not be null")))
    status, body, r = json_call(endpoint, "PutRecord", {"StreamName": stream, "PartitionKey": "k"})
    assert_raw_error(status, body, r, VALIDATION, ["data"], message=validation_msg(
        (None, "data", "Member must not be null")))


def test_put_record_no_stream_identifier(endpoint):
    status, body, r = json_call(endpoint, "PutRecord", {"Data": b64(b"x"), "PartitionKey": "k"})
    assert_raw_error(status, body, r, EITHER, ["stream"])


def test_put_record_too_large(raw_kinesis, kinesis, stream):
    # Data + partition key may be at most 1 MiB by default.
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"\x00" * MiB, PartitionKey="k")
    assert_client_error(e, VALIDATION, ["data"])
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"\x00" * (MiB + 1), PartitionKey="k")
    assert_client_error(e, VALIDATION, ["data"], message=validation_msg((
        f"java.nio.HeapByteBuffer[pos=0 lim={MiB + 1} cap={MiB + 1}]", "data",
        "Member must have length less than or equal to 1048576")))
    # The boundary itself is accepted.
    kinesis.put_record(StreamName=stream, Data=b"\x01" * (MiB - 1), PartitionKey="k")


@pytest.mark.parametrize("ehk", ["abc", "-1", "1.5", "01", "1" * 40])
def test_put_record_bad_explicit_hash_key_pattern(raw_kinesis, stream, ehk):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k", ExplicitHashKey=ehk)
    assert_client_error(e, VALIDATION, ["explicitHashKey"],
                        message=validation_msg((ehk, "explicitHashKey", HASH_PATTERN)))


def test_put_record_explicit_hash_key_out_of_range(raw_kinesis, stream):
    v = str(HASH_MAX + 1)
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k", ExplicitHashKey=v)
    assert_client_error(e, INVALID_ARG, ["ExplicitHashKey"], message=(
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        f"Specified value was {v}"))


def test_put_record_bad_sequence_number_for_ordering(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k",
                               SequenceNumberForOrdering="abc")
    assert_client_error(e, EITHER, ["sequenceNumberForOrdering"])


def test_put_record_sequence_number_for_ordering_never_issued(raw_kinesis, kinesis, stream):
    # A SequenceNumberForOrdering far beyond anything the stream issued (AWS: "in the future")
    # is rejected; it must never be silently accepted with a smaller new sequence number.
    seq = "9" * 60
    try:
        r = raw_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k",
                                   SequenceNumberForOrdering=seq)
    except ClientError as e:
        assert_client_error(e, INVALID_ARG, ["ExclusiveMinimumSequenceNumber"], message=(
            f"ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {stream} "
            f"under account {ACCOUNT_ID} is invalid."))
    else:
        pytest.fail(f"accepted, and returned {r['SequenceNumber']} "
                    f"{'<=' if int(r['SequenceNumber']) <= int(seq) else '>'} the given {seq}")


def test_put_record_missing_stream_exact(kinesis):
    name = unique_name("nope")
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert_client_error(e, "ResourceNotFoundException", message=not_found_msg(name))


# ---------------------------------------------------------------- PutRecords
def test_put_records_empty(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=[])
    assert_client_error(e, VALIDATION, ["records"], message=validation_msg(
        ("[]", "records", "Member must have length greater than or equal to 1")))


def test_put_records_too_many(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream,
                                Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert_client_error(e, VALIDATION, ["records"])
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("1 validation error detected: Value '[")
    assert msg.endswith("at 'records' failed to satisfy constraint: "
                        "Member must have length less than or equal to 500"), msg


def test_put_records_bad_entry_partition_key(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=[
            {"Data": b"x", "PartitionKey": "ok"}, {"Data": b"x", "PartitionKey": ""}])
    assert_client_error(e, VALIDATION, ["partitionKey"], message=validation_msg(
        ("", "records.2.member.partitionKey", "Member must have length greater than or equal to 1")))


def test_put_records_entry_too_large(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=[
            {"Data": b"x", "PartitionKey": "ok"}, {"Data": b"\x00" * MiB, "PartitionKey": "k"}])
    assert_client_error(e, EITHER, ["data", "size", "record"])


def test_put_records_request_over_5_mib(raw_kinesis, kinesis, stream):
    recs = [{"Data": b"\x02" * 1_000_000, "PartitionKey": f"k{i}"} for i in range(6)]
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=recs)
    assert_client_error(e, INVALID_ARG, ["records"], message="Records size exceeds 5 MB limit")
    # Nothing of the rejected request was written.
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_put_records_exactly_5_mib_ok(kinesis, stream):
    # 5 records of (1 MiB - 1) data + 1-char partition key = exactly 5 MiB.
    recs = [{"Data": bytes([i]) * (MiB - 1), "PartitionKey": str(i)} for i in range(5)]
    resp = kinesis.put_records(StreamName=stream, Records=recs)
    assert resp["FailedRecordCount"] == 0


def test_put_records_bad_explicit_hash_key(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=[
            {"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": "nope"}])
    assert_client_error(e, VALIDATION, ["explicitHashKey"], message=validation_msg(
        ("nope", "records.1.member.explicitHashKey", HASH_PATTERN)))


def test_put_records_explicit_hash_key_out_of_range_fails_whole_request(raw_kinesis, kinesis,
                                                                        stream):
    v = str(HASH_MAX + 1)
    with pytest.raises(ClientError) as e:
        raw_kinesis.put_records(StreamName=stream, Records=[
            {"Data": b"ok", "PartitionKey": "k"},
            {"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": v}])
    assert_client_error(e, INVALID_ARG, ["ExplicitHashKey"])
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


# ---------------------------------------------------------- paging limits
@pytest.mark.parametrize("op,kw", [
    ("describe_stream", {"Limit": 0}),
    ("describe_stream", {"Limit": 10001}),
    ("list_shards", {"MaxResults": 0}),
    ("list_shards", {"MaxResults": 10001}),
])
def test_stream_paging_limits(raw_kinesis, stream, op, kw):
    with pytest.raises(ClientError) as e:
        getattr(raw_kinesis, op)(StreamName=stream, **kw)
    assert_client_error(e, VALIDATION, [list(kw)[0]])


@pytest.mark.parametrize("limit", [0, 10001])
def test_list_streams_limit(raw_kinesis, limit):
    with pytest.raises(ClientError) as e:
        raw_kinesis.list_streams(Limit=limit)
    assert_client_error(e, VALIDATION, ["limit"])


@pytest.mark.parametrize("limit,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (10001, "Member must have value less than or equal to 10000")])
def test_get_records_limit_bounds(raw_kinesis, kinesis, stream, limit, constraint):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    kinesis.get_records(ShardIterator=it, Limit=10000)
    with pytest.raises(ClientError) as e:
        raw_kinesis.get_records(ShardIterator=it, Limit=limit)
    assert_client_error(e, VALIDATION, ["limit"],
                        message=validation_msg((str(limit), "limit", constraint)))


# --------------------------------------------------------- addressing errors
def test_bad_stream_arn(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.describe_stream_summary(StreamARN="arn:aws:s3:::bucket")
    assert_client_error(e, VALIDATION, ["streamARN"], message=validation_msg(
        ("arn:aws:s3:::bucket", "streamARN",
         "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+")))


def test_arn_in_stream_name(raw_kinesis, stream):
    arn = stream_arn(stream)
    with pytest.raises(ClientError) as e:
        raw_kinesis.describe_stream_summary(StreamName=arn)
    assert_client_error(e, VALIDATION, ["streamName"],
                        message=validation_msg((arn, "streamName", NAME_PATTERN)))


def test_no_stream_identifier(raw_kinesis):
    with pytest.raises(ClientError) as e:
        raw_kinesis.describe_stream_summary()
    assert_client_error(e, EITHER, ["stream"])


def test_stream_name_and_arn_disagree(raw_kinesis, make_stream):
    a = make_stream(1)
    b = make_stream(1)
    with pytest.raises(ClientError) as e:
        raw_kinesis.describe_stream_summary(StreamName=a, StreamARN=stream_arn(b))
    assert_client_error(e, {INVALID_ARG, VALIDATION, "ResourceNotFoundException"})


def test_stream_arn_other_account_or_region(raw_kinesis, stream):
    for arn in (stream_arn(stream, account="123456789012"), stream_arn(stream, region="eu-west-1")):
        with pytest.raises(ClientError) as e:
            raw_kinesis.describe_stream_summary(StreamARN=arn)
        assert_client_error(e, {"ResourceNotFoundException", INVALID_ARG, "AccessDeniedException"})


# --------------------------------------------------------------- raw bodies
@pytest.mark.parametrize("body", ['{"StreamName": "x", ', "not json", "[1,2,3]", '"str"',
                                  "{'a': 1}", "null", "123"])
def test_malformed_json(endpoint, body):
    r = raw_call(endpoint, "ListStreams", body)
    assert r.status_code == 400, (body, r.text)
    assert r.headers.get("Content-Type", "").startswith(JSON_CT)
    assert_raw_error(r.status_code, r.json(), r, "SerializationException")


def test_empty_body_is_serialization_exception(endpoint):
    r = raw_call(endpoint, "ListStreams", b"")
    assert r.status_code == 400, r.text
    assert_raw_error(r.status_code, r.json(), r, "SerializationException")


def test_bad_base64(endpoint, kinesis, stream):
    status, body, r = json_call(endpoint, "PutRecord",
                                {"StreamName": stream, "Data": "a", "PartitionKey": "k"})
    assert_raw_error(status, body, r, "SerializationException", message=(
        "'a' can not be converted to a Blob: "
        "Base64 encoded length is expected a multiple of 4 bytes but found: 1"))
    for data in ["!!!not-base64!!!", "%%%%", "=+/="]:
        status, body, r = json_call(endpoint, "PutRecord",
                                    {"StreamName": stream, "Data": data, "PartitionKey": "k"})
        assert_raw_error(status, body, r, "SerializationException", ["Blob", "base64"])
    status, body, r = json_call(endpoint, "PutRecords", {
        "StreamName": stream, "Records": [{"Data": "%%%", "PartitionKey": "k"}]})
    assert_raw_error(status, body, r, "SerializationException")
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=it)["Records"] == []


NUM_TO_STRING = ("class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                 "can not be converted to an String")


@pytest.mark.parametrize("op,payload,message", [
    ("CreateStream", {"StreamName": 123, "ShardCount": 1}, NUM_TO_STRING),
    ("CreateStream", {"StreamName": True, "ShardCount": 1},
     "class java.lang.Boolean can not be converted to an String"),
    ("CreateStream", {"StreamName": "typed", "ShardCount": "one"},
     "class java.lang.String can not be converted to an Integer"),
    ("CreateStream", {"StreamName": "typed", "ShardCount": True},
     "class java.lang.Boolean can not be converted to an Integer"),
    ("CreateStream", {"StreamName": "typed", "ShardCount": 1, "Tags": ["a"]},
     "Start of list found where not expected"),
    ("CreateStream", {"StreamName": ["typed"], "ShardCount": 1},
     "Start of list found where not expected"),
    ("CreateStream", {"StreamName": {"a": 1}, "ShardCount": 1},
     "Start of structure or map found where not expected."),
    ("PutRecord", {"StreamName": "typed", "Data": 12, "PartitionKey": "k"},
     "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"),
    ("PutRecord", {"StreamName": "typed", "Data": True, "PartitionKey": "k"},
     "class java.lang.Boolean can not be converted to a Blob"),
    ("PutRecords", {"StreamName": "typed", "Records": "nope"}, "Expected list or null"),
    ("AddTagsToStream", {"StreamName": "typed", "Tags": "nope"}, "Expected map or null"),
    ("ListStreams", {"Limit": "ten"}, "class java.lang.String can not be converted to an Integer"),
    ("GetShardIterator", {"StreamName": "typed", "ShardId": shard_id(0),
                          "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": "yesterday"},
     "class java.lang.String can not be converted to milliseconds since epoch"),
    ("DeleteStream", {"StreamName": "typed", "EnforceConsumerDeletion": "maybe"},
     "'MAYBE' can not be converted to an Boolean"),
])
def test_wrong_json_types(endpoint, op, payload, message):
    status, body, r = json_call(endpoint, op, payload)
    assert_raw_error(status, body, r, "SerializationException", message=message)


def test_unknown_members_are_ignored(endpoint):
    status, body, r = json_call(endpoint, "ListStreams", {"Limit": 1, "NoSuchMember": "x"})
    assert status == 200, body
    assert "StreamNames" in body


def test_null_member_is_absent(endpoint):
    status, body, r = json_call(endpoint, "ListStreams", {"Limit": None,
                                                          "ExclusiveStartStreamName": None})
    assert status == 200, body


def test_oversized_body(endpoint, kinesis):
    # Far beyond anything valid (10 MiB record limit, base64-encoded): the server must refuse
    # it with a 4xx and keep serving, not buffer it forever or crash.
    size = 64 * MiB
    body = b'{"StreamName":"x","PartitionKey":"k","Data":"' + b"A" * size + b'"}'
    try:
        r = raw_call(endpoint, "PutRecord", body, timeout=60)
        assert r.status_code in (400, 413), r.text[:500]
    except requests.ConnectionError:
        # Server closed the connection early after an error response: acceptable.
        pass
    assert "StreamNames" in kinesis.list_streams(Limit=1)
