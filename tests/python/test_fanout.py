"""Enhanced fan-out with boto3: consumer registration, SubscribeToShard over HTTP/1.1 chunked
(what botocore speaks), resubscription across the subscription lifetime, ten consumers, a split
followed into the child shards, and the same calls over TLS with weir's generated certificate."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from weirtest import (ACCESS_KEY, REGION, SECRET_KEY, ServerStartError, WeirServer, free_port,
                      hash_key, make_client, shard_id, stream_arn, unique_name, unthrottled_args,
                      wait_active)


def register_active(client, stream: str, name: str) -> str:
    arn = client.register_stream_consumer(StreamARN=stream_arn(stream),
                                          ConsumerName=name)["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 10
    while True:
        d = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        if d["ConsumerStatus"] == "ACTIVE":
            return arn
        assert time.monotonic() < deadline, f"consumer {name} never ACTIVE"
        time.sleep(0.02)


def put(client, stream: str, first: int, n: int) -> None:
    out = client.put_records(StreamName=stream, Records=[
        {"Data": f"rec-{i:08d}".encode(), "PartitionKey": f"pk-{i}"} for i in range(first, first + n)])
    assert out["FailedRecordCount"] == 0


def index(record: dict) -> int:
    return int(record["Data"][4:12])


def read(client, arn: str, shard: str, position: dict, want: int, timeout: float = 20.0):
    """One subscription: (indexes, last continuation, child shard ids, ended by the server)."""
    resp = client.subscribe_to_shard(ConsumerARN=arn, ShardId=shard, StartingPosition=position)
    got, cont, children, ended = [], None, [], True
    deadline = time.monotonic() + timeout
    stream = resp["EventStream"]
    for event in stream:
        ev = event["SubscribeToShardEvent"]
        got.extend(index(r) for r in ev["Records"])
        cont = ev.get("ContinuationSequenceNumber") or cont
        children.extend(c["ShardId"] for c in ev.get("ChildShards", []))
        if len(got) >= want or time.monotonic() > deadline:
            ended = False
            break
    stream.close()
    return got, cont, children, ended


@pytest.fixture
def short_lived():
    """A private server whose subscriptions last one second."""
    server = WeirServer(extra_args=unthrottled_args() + ["--subscription-lifetime-ms", "1000"])
    try:
        server.start()
    except ServerStartError as e:
        server.cleanup()
        pytest.fail(str(e), pytrace=False)
    yield server
    server.cleanup()


def test_consumer_lifecycle(kinesis, make_stream):
    stream = make_stream(1)
    arns = [register_active(kinesis, stream, f"app-{i}") for i in range(5)]
    assert arns[0].startswith(stream_arn(stream) + "/consumer/app-0:")
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="app-0")
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    d = kinesis.describe_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="app-1")
    assert d["ConsumerDescription"]["ConsumerARN"] == arns[1]
    assert d["ConsumerDescription"]["StreamARN"] == stream_arn(stream)
    pages = kinesis.get_paginator("list_stream_consumers").paginate(
        StreamARN=stream_arn(stream), PaginationConfig={"PageSize": 2})
    listed = [c["ConsumerName"] for page in pages for c in page["Consumers"]]
    assert listed == [f"app-{i}" for i in range(5)]
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 5
    kinesis.deregister_stream_consumer(ConsumerARN=arns[4])
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName=stream)
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    assert "EnforceConsumerDeletion" in e.value.response["Error"]["Message"]


def test_subscribe_every_record_in_order_across_resubscriptions(short_lived):
    client = make_client(short_lived.endpoint)
    stream = unique_name("fo")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    arn = register_active(client, stream, "reader")
    total = 300

    def produce():
        for b in range(15):
            put(client, stream, b * 20, 20)
            time.sleep(0.15)

    producer = threading.Thread(target=produce)
    producer.start()
    seen, cont, subscriptions = [], None, 0
    deadline = time.monotonic() + 40
    while len(seen) < total:
        assert time.monotonic() < deadline, f"only {len(seen)} of {total}"
        position = ({"Type": "TRIM_HORIZON"} if cont is None else
                    {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": cont})
        got, c, _, _ = read(client, arn, shard_id(0), position, total - len(seen))
        subscriptions += 1
        seen.extend(got)
        cont = c or cont
    producer.join()
    assert seen == list(range(total))
    assert subscriptions >= 2


def test_second_subscription_is_refused(kinesis, make_stream):
    stream = make_stream(1)
    arn = register_active(kinesis, stream, "only-one")
    first = kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId=shard_id(0),
                                       StartingPosition={"Type": "LATEST"})
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId=shard_id(0),
                                   StartingPosition={"Type": "LATEST"})
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    first["EventStream"].close()


def test_ten_consumers_each_get_every_record(kinesis, make_stream):
    stream = make_stream(1)
    arns = [register_active(kinesis, stream, f"c{i}") for i in range(10)]
    # One of them subscribes and never reads.
    stalled = kinesis.subscribe_to_shard(ConsumerARN=arns[9], ShardId=shard_id(0),
                                         StartingPosition={"Type": "TRIM_HORIZON"})
    results: dict[int, list[int]] = {}

    def consume(i: int):
        results[i] = read(kinesis, arns[i], shard_id(0), {"Type": "TRIM_HORIZON"}, 500)[0]

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    started = time.monotonic()
    for b in range(10):
        put(kinesis, stream, b * 50, 50)
    put_time = time.monotonic() - started
    for t in threads:
        t.join(30)
    assert put_time < 10
    for i in range(9):
        assert results[i] == list(range(500)), f"consumer {i}"
    stalled["EventStream"].close()


def test_subscribe_follows_a_split(kinesis, make_stream):
    stream = make_stream(1)
    arn = register_active(kinesis, stream, "lineage")
    put(kinesis, stream, 0, 30)
    box = {}
    reader = threading.Thread(target=lambda: box.setdefault(
        "r", read(kinesis, arn, shard_id(0), {"Type": "TRIM_HORIZON"}, 10**9, timeout=20)))
    reader.start()
    time.sleep(0.3)
    try:
        kinesis.split_shard(StreamName=stream, ShardToSplit=shard_id(0),
                            NewStartingHashKey=str(2**127))
    except ClientError as e:
        if e.response["Error"]["Code"] == "UnknownOperationException":
            pytest.skip("SplitShard is not implemented yet")
        raise
    wait_active(kinesis, stream)
    put(kinesis, stream, 30, 30)
    reader.join(30)
    got, cont, children, ended = box["r"]
    assert ended and got == list(range(30))
    assert sorted(children) == [shard_id(1), shard_id(2)]
    # The lower child takes the keys below the split point.
    expected = {shard_id(1): [i for i in range(30, 60) if hash_key(f"pk-{i}") < 2**127],
                shard_id(2): [i for i in range(30, 60) if hash_key(f"pk-{i}") >= 2**127]}
    for child, want in expected.items():
        got = read(kinesis, arn, child, {"Type": "TRIM_HORIZON"}, len(want), timeout=10)[0]
        assert got == want, child


def test_tls_with_the_generated_certificate():
    tls_port = free_port()
    server = WeirServer(extra_args=unthrottled_args() + ["--tls-listen", f"127.0.0.1:{tls_port}"])
    try:
        server.start()
        cert = server.data_dir / "tls" / "cert.pem"
        assert cert.exists()
        assert str(cert) in server.log_tail()
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY, region_name=REGION)
        client = session.client("kinesis", endpoint_url=f"https://localhost:{tls_port}",
                                verify=str(cert), config=Config(retries={"total_max_attempts": 1}))
        stream = unique_name("tls")
        client.create_stream(StreamName=stream, ShardCount=1)
        wait_active(client, stream)
        arn = register_active(client, stream, "secure")
        put(client, stream, 0, 10)
        got, _, _, _ = read(client, arn, shard_id(0), {"Type": "TRIM_HORIZON"}, 10)
        assert got == list(range(10))
        # Not trusting the certificate fails the handshake.
        plain = session.client("kinesis", endpoint_url=f"https://localhost:{tls_port}",
                               config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(Exception):
            plain.list_streams()
    finally:
        server.cleanup()
