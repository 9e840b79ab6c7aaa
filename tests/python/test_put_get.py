"""PutRecord / PutRecords / GetRecords: routing, ordering, payload fidelity."""

import datetime as dt
import os
import random
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (HASH_MAX, MiB, assert_client_error, expected_ranges, expected_shard_index,
                      hash_key, json_call, not_found_msg, read_shard, shard_id, stream_arn)


def test_md5_vectors_are_what_the_reference_says():
    # Sanity check of the test helper itself.
    assert hash_key("pk") == 38317986088707300215492326132921849533
    assert hash_key("1") == 261578874264819908609102035485573088411
    assert expected_shard_index("pk", 4) == 0
    assert expected_shard_index("1", 4) == 3


def test_put_record_routing_md5_vectors(kinesis, stream4):
    r = kinesis.put_record(StreamName=stream4, Data=b"a", PartitionKey="pk")
    assert r["ShardId"] == shard_id(0)
    r = kinesis.put_record(StreamName=stream4, Data=b"b", PartitionKey="1")
    assert r["ShardId"] == shard_id(3)


def test_put_record_response_shape(kinesis, stream):
    r = kinesis.put_record(StreamName=stream, Data=b"hello", PartitionKey="k")
    assert r["ShardId"] == shard_id(0)
    seq = r["SequenceNumber"]
    assert isinstance(seq, str) and seq.isdigit() and len(seq) <= 129
    assert seq == "0" or not seq.startswith("0")
    assert r.get("EncryptionType", "NONE") == "NONE"
    assert "x-amzn-requestid" in {k.lower() for k in r["ResponseMetadata"]["HTTPHeaders"]}


def test_put_record_routing_many_keys(kinesis, stream4):
    keys = [f"key-{i}" for i in range(40)] + ["pk", "1", "ü-unicode-ключ", "x" * 256]
    for k in keys:
        r = kinesis.put_record(StreamName=stream4, Data=k.encode(), PartitionKey=k)
        assert r["ShardId"] == shard_id(expected_shard_index(k, 4)), k


def test_put_record_explicit_hash_key_routing(kinesis, stream4):
    ranges = expected_ranges(4)
    cases = [(0, 0), (HASH_MAX, 3)]
    for i, (lo, hi) in enumerate(ranges):
        cases += [(lo, i), (hi, i), ((lo + hi) // 2, i)]
    for hk, want in cases:
        # Partition key "1" alone would go to shard 3: ExplicitHashKey overrides it.
        r = kinesis.put_record(StreamName=stream4, Data=b"e", PartitionKey="1",
                               ExplicitHashKey=str(hk))
        assert r["ShardId"] == shard_id(want), hk


def test_sequence_numbers_increase_within_shard(kinesis, stream):
    seqs = [int(kinesis.put_record(StreamName=stream, Data=str(i).encode(),
                                   PartitionKey="k")["SequenceNumber"]) for i in range(20)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_sequence_number_for_ordering(kinesis, stream4):
    a = kinesis.put_record(StreamName=stream4, Data=b"a", PartitionKey="pk")
    b = kinesis.put_record(StreamName=stream4, Data=b"b", PartitionKey="pk",
                           SequenceNumberForOrdering=a["SequenceNumber"])
    assert a["ShardId"] == b["ShardId"] == shard_id(0)
    assert int(b["SequenceNumber"]) > int(a["SequenceNumber"])
    # Using a sequence number from another shard is allowed: ordering is still per shard.
    c = kinesis.put_record(StreamName=stream4, Data=b"c", PartitionKey="1",
                           SequenceNumberForOrdering=b["SequenceNumber"])
    assert c["ShardId"] == shard_id(3)
    d = kinesis.put_record(StreamName=stream4, Data=b"d", PartitionKey="pk",
                           SequenceNumberForOrdering=b["SequenceNumber"])
    assert int(d["SequenceNumber"]) > int(b["SequenceNumber"])
    recs = read_shard(kinesis, stream4, shard_id(0))
    assert [r["Data"] for r in recs] == [b"a", b"b", b"d"]


def test_put_record_by_arn(kinesis, stream):
    r = kinesis.put_record(StreamARN=stream_arn(stream), Data=b"arn", PartitionKey="k")
    recs = read_shard(kinesis, stream, r["ShardId"])
    assert [x["Data"] for x in recs] == [b"arn"]
    assert recs[0]["SequenceNumber"] == r["SequenceNumber"]


def test_put_record_missing_stream(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="does-not-exist-xyz", Data=b"x", PartitionKey="k")
    assert_client_error(e, "ResourceNotFoundException", ["does-not-exist-xyz"],
                        message=not_found_msg("does-not-exist-xyz"))


# ---------------------------------------------------------------- PutRecords
def test_put_records_results_and_order(kinesis, stream4):
    entries = [{"Data": f"rec-{i}".encode(), "PartitionKey": f"pk-{i % 7}"} for i in range(60)]
    entries.append({"Data": b"explicit", "PartitionKey": "whatever", "ExplicitHashKey": "0"})
    entries.append({"Data": b"to-3", "PartitionKey": "1"})
    entries.append({"Data": b"to-0", "PartitionKey": "pk"})
    resp = kinesis.put_records(StreamName=stream4, Records=entries)
    assert resp["FailedRecordCount"] == 0
    results = resp["Records"]
    assert len(results) == len(entries)
    for ent, res in zip(entries, results):
        assert "ErrorCode" not in res
        assert res["SequenceNumber"].isdigit()
        if "ExplicitHashKey" in ent:
            assert res["ShardId"] == shard_id(0)
        else:
            assert res["ShardId"] == shard_id(expected_shard_index(ent["PartitionKey"], 4))
    # Per shard: sequence numbers follow request order, and reading returns that order.
    by_shard = {}
    for ent, res in zip(entries, results):
        by_shard.setdefault(res["ShardId"], []).append((int(res["SequenceNumber"]), ent["Data"]))
    for sid, items in by_shard.items():
        seqs = [s for s, _ in items]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        got = read_shard(kinesis, stream4, sid)
        assert [(int(r["SequenceNumber"]), r["Data"]) for r in got] == items
        for r, ent in zip(got, [e for e, res in zip(entries, results) if res["ShardId"] == sid]):
            assert r["PartitionKey"] == ent["PartitionKey"]


def test_put_records_by_arn_max_entries(kinesis, stream):
    entries = [{"Data": os.urandom(10), "PartitionKey": str(i)} for i in range(500)]
    resp = kinesis.put_records(StreamARN=stream_arn(stream), Records=entries)
    assert resp["FailedRecordCount"] == 0
    assert len(resp["Records"]) == 500
    got = read_shard(kinesis, stream, shard_id(0))
    assert [r["Data"] for r in got] == [e["Data"] for e in entries]


def test_put_records_interleaves_with_put_record(kinesis, stream):
    a = kinesis.put_record(StreamName=stream, Data=b"1", PartitionKey="k")
    b = kinesis.put_records(StreamName=stream, Records=[{"Data": b"2", "PartitionKey": "k"},
                                                        {"Data": b"3", "PartitionKey": "k"}])
    c = kinesis.put_record(StreamName=stream, Data=b"4", PartitionKey="k")
    seqs = [a["SequenceNumber"]] + [r["SequenceNumber"] for r in b["Records"]] + [c["SequenceNumber"]]
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    got = read_shard(kinesis, stream, shard_id(0))
    assert [r["Data"] for r in got] == [b"1", b"2", b"3", b"4"]
    assert [r["SequenceNumber"] for r in got] == seqs


def test_put_records_missing_stream(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.put_records(StreamName="does-not-exist-xyz",
                            Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert_client_error(e, "ResourceNotFoundException", ["does-not-exist-xyz"],
                        message=not_found_msg("does-not-exist-xyz"))


# -------------------------------------------------------------- GetRecords
def test_payloads_byte_identical(kinesis, stream):
    payloads = [
        b"",
        bytes(range(256)),
        b"\x00" * 100,
        b"\xff\xfe\xfd\x00\x01",
        "unicode ✓ ключ 🚀".encode(),
        os.urandom(1000),
        os.urandom(300 * 1024),
        os.urandom(MiB - 1),  # + 1-byte partition key = exactly 1 MiB record
    ]
    seqs = []
    for p in payloads:
        seqs.append(kinesis.put_record(StreamName=stream, Data=p, PartitionKey="k")["SequenceNumber"])
    got = read_shard(kinesis, stream, shard_id(0))
    assert len(got) == len(payloads)
    for r, p, s in zip(got, payloads, seqs):
        assert r["Data"] == p
        assert r["SequenceNumber"] == s
        assert r["PartitionKey"] == "k"


def test_put_records_binary_batch_byte_identical(kinesis, stream):
    entries = [{"Data": os.urandom(random.randint(0, 5000)), "PartitionKey": f"p{i}"}
               for i in range(100)]
    entries[3]["Data"] = b""
    kinesis.put_records(StreamName=stream, Records=entries)
    got = read_shard(kinesis, stream, shard_id(0))
    assert [(r["PartitionKey"], r["Data"]) for r in got] == \
        [(e["PartitionKey"], e["Data"]) for e in entries]


def test_get_records_limit_and_chaining(kinesis, stream):
    for i in range(10):
        kinesis.put_record(StreamName=stream, Data=str(i).encode(), PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = []
    pages = 0
    while True:
        resp = kinesis.get_records(ShardIterator=it, Limit=3)
        pages += 1
        assert len(resp["Records"]) <= 3
        got.extend(r["Data"] for r in resp["Records"])
        it = resp["NextShardIterator"]
        assert it, "open shard must always return NextShardIterator"
        if not resp["Records"]:
            break
        assert pages < 20
    assert got == [str(i).encode() for i in range(10)]
    # First page with Limit=3 returns exactly 3 records when 10 are available.
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(kinesis.get_records(ShardIterator=it, Limit=3)["Records"]) == 3
    assert len(kinesis.get_records(ShardIterator=it, Limit=1)["Records"]) == 1


def test_get_records_metadata(kinesis, stream):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    kinesis.put_record(StreamName=stream, Data=b"m1", PartitionKey="k")
    time.sleep(0.3)
    kinesis.put_record(StreamName=stream, Data=b"m2", PartitionKey="k")
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it, Limit=1)
    assert len(resp["Records"]) == 1
    r = resp["Records"][0]
    ts = r["ApproximateArrivalTimestamp"]
    assert isinstance(ts, dt.datetime)
    assert before <= ts <= after
    assert isinstance(resp["MillisBehindLatest"], int) and resp["MillisBehindLatest"] >= 0
    resp2 = kinesis.get_records(ShardIterator=resp["NextShardIterator"])
    assert [x["Data"] for x in resp2["Records"]] == [b"m2"]
    ts2 = resp2["Records"][0]["ApproximateArrivalTimestamp"]
    assert ts2 >= ts
    # Millisecond precision is preserved (the two records were ~300 ms apart).
    assert (ts2 - ts).total_seconds() >= 0.2
    assert resp2["MillisBehindLatest"] == 0
    # Caught up: empty page, still an iterator, not behind.
    resp3 = kinesis.get_records(ShardIterator=resp2["NextShardIterator"])
    assert resp3["Records"] == [] and resp3["NextShardIterator"] and resp3["MillisBehindLatest"] == 0


def test_get_records_millis_behind_latest_when_behind(kinesis, stream):
    kinesis.put_record(StreamName=stream, Data=b"old", PartitionKey="k")
    time.sleep(1.2)
    kinesis.put_record(StreamName=stream, Data=b"new", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it, Limit=1)
    assert resp["Records"][0]["Data"] == b"old"
    assert resp["MillisBehindLatest"] >= 500


def test_iterator_can_be_reused(kinesis, stream):
    kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    a = kinesis.get_records(ShardIterator=it)["Records"]
    b = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["SequenceNumber"] for r in a] == [r["SequenceNumber"] for r in b]


@pytest.mark.parametrize("bad", ["garbage", "AAAAAAAAAAE" + "x" * 40, "0" * 100])
def test_get_records_invalid_iterator(kinesis, bad):
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator=bad)
    assert_client_error(e, "InvalidArgumentException", message="Invalid ShardIterator.")


def test_get_records_tampered_iterator(kinesis, stream):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    mid = len(it) // 2
    flipped = "B" if it[mid] != "B" else "C"
    bad = it[:mid] + flipped + it[mid + 1:]
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator=bad)
    assert_client_error(e, {"InvalidArgumentException", "ExpiredIteratorException"})


def test_get_records_iterator_of_deleted_stream(kinesis, make_stream):
    name = make_stream(1)
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name,
                                                 WaiterConfig={"Delay": 0.25, "MaxAttempts": 60})
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator=it)
    assert_client_error(e, {"ResourceNotFoundException", "InvalidArgumentException"})


def test_get_records_with_stream_arn(kinesis, stream):
    kinesis.put_record(StreamName=stream, Data=b"z", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamARN=stream_arn(stream), ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it, StreamARN=stream_arn(stream))
    assert [r["Data"] for r in resp["Records"]] == [b"z"]


def test_iterator_chain_reads_new_records(kinesis, stream):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="LATEST")["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it)
    assert resp["Records"] == []
    it = resp["NextShardIterator"]
    kinesis.put_record(StreamName=stream, Data=b"later", PartitionKey="k")
    resp = kinesis.get_records(ShardIterator=it)
    assert [r["Data"] for r in resp["Records"]] == [b"later"]


def test_raw_json_wire_shapes(endpoint, stream):
    status, body, _ = json_call(endpoint, "PutRecord",
                                {"StreamName": stream, "Data": "aGVsbG8A", "PartitionKey": "k"})
    assert status == 200, body
    assert isinstance(body["SequenceNumber"], str) and isinstance(body["ShardId"], str)
    status, body, _ = json_call(endpoint, "GetShardIterator", {
        "StreamName": stream, "ShardId": shard_id(0), "ShardIteratorType": "TRIM_HORIZON"})
    assert status == 200, body
    status, body, _ = json_call(endpoint, "GetRecords", {"ShardIterator": body["ShardIterator"]})
    assert status == 200, body
    rec = body["Records"][0]
    assert rec["Data"] == "aGVsbG8A"  # standard base64 with padding: b"hello\x00"
    ts = rec["ApproximateArrivalTimestamp"]
    assert isinstance(ts, (int, float)) and not isinstance(ts, bool)
    assert abs(ts - time.time()) < 60, "JSON timestamps are epoch seconds"
    assert isinstance(body["MillisBehindLatest"], int)
    status, body, _ = json_call(endpoint, "DescribeStreamSummary", {"StreamName": stream})
    created = body["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert isinstance(created, (int, float)) and abs(created - time.time()) < 600
