"""Metrics: what a client did, read back through the CloudWatch API and through /metrics.

The CloudWatch client is plain boto3 (`boto3.client('cloudwatch', endpoint_url=...)`), which
speaks Smithy RPC v2 CBOR; the awsJson1.0 and awsQuery protocols are exercised with the same
boto3 calls by loading botocore's CloudWatch model with its protocol list narrowed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import time
from pathlib import Path

import boto3
import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from weirtest import ACCESS_KEY, REGION, SECRET_KEY, expected_shard_index, shard_id

NS = "AWS/Kinesis"


def cloudwatch_client(endpoint: str, *, protocol: str | None = None, model_dir: Path | None = None,
                      validate: bool = True):
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                    aws_secret_access_key=SECRET_KEY, region_name=REGION)
    if protocol is not None:
        # A copy of botocore's CloudWatch model that lists only `protocol`, searched first.
        target = model_dir / "cloudwatch" / "2010-08-01"
        target.mkdir(parents=True, exist_ok=True)
        src = Path(botocore.__file__).parent / "data" / "cloudwatch" / "2010-08-01" / "service-2.json.gz"
        model = json.loads(gzip.decompress(src.read_bytes()))
        model["metadata"]["protocol"] = protocol
        model["metadata"]["protocols"] = [protocol]
        (target / "service-2.json").write_text(json.dumps(model))
        session._session.get_component("data_loader").search_paths.insert(0, str(model_dir))
    cfg = Config(region_name=REGION, retries={"mode": "standard", "total_max_attempts": 1},
                 parameter_validation=validate)
    return session.client("cloudwatch", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def cloudwatch(endpoint):
    return cloudwatch_client(endpoint)


def window():
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=1)


def stats(cw, stream, metric, statistics, *, period=60, extra_dims=(), **kw):
    """Datapoints of one metric of `stream`, oldest first."""
    start, end = window()
    out = cw.get_metric_statistics(
        Namespace=NS, MetricName=metric,
        Dimensions=[{"Name": "StreamName", "Value": stream}, *extra_dims],
        StartTime=start, EndTime=end, Period=period, Statistics=statistics, **kw)
    assert out["Label"] == metric
    return sorted(out["Datapoints"], key=lambda d: d["Timestamp"])


def total(points, stat):
    return sum(p[stat] for p in points)


def prometheus(endpoint) -> dict[str, float]:
    r = requests.get(f"{endpoint}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def put_and_read(kinesis, stream, *, batches=2, per_batch=60, singles=3, read=50, age_s=1.2):
    """Puts records (PutRecords and PutRecord), waits, reads `read` of them with one
    GetRecords. Returns (records put, records read, put finished at, read at)."""
    for b in range(batches):
        kinesis.put_records(StreamName=stream, Records=[
            {"PartitionKey": f"k{b}-{i}", "Data": b"x" * 100} for i in range(per_batch)])
    for i in range(singles):
        kinesis.put_record(StreamName=stream, PartitionKey=f"s{i}", Data=b"y" * 10)
    put_done = time.time()
    time.sleep(age_s)
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=read)
    read_at = time.time()
    assert len(got["Records"]) == read
    return batches * per_batch + singles, read, put_done, read_at


def test_incoming_records_and_iterator_age_agree_with_what_the_client_did(
        kinesis, cloudwatch, stream, endpoint):
    n, read, put_done, read_at = put_and_read(kinesis, stream)

    incoming = stats(cloudwatch, stream, "IncomingRecords", ["Sum", "SampleCount"])
    assert total(incoming, "Sum") == n
    assert total(incoming, "SampleCount") == 2 + 3  # one sample per put operation
    assert all(p["Unit"] == "Count" for p in incoming)

    age = stats(cloudwatch, stream, "GetRecords.IteratorAgeMilliseconds", ["Maximum", "SampleCount"])
    assert total(age, "SampleCount") == 1
    age_ms = max(p["Maximum"] for p in age)
    # The last record returned was put during the first PutRecords call, before the sleep.
    assert 1200 <= age_ms <= (read_at - put_done) * 1000 + 5000, age_ms
    assert age[0]["Unit"] == "Milliseconds"

    assert total(stats(cloudwatch, stream, "GetRecords.Records", ["Sum"]), "Sum") == read
    assert total(stats(cloudwatch, stream, "GetRecords.Bytes", ["Sum"]), "Sum") == read * 100
    assert total(stats(cloudwatch, stream, "PutRecords.TotalRecords", ["Sum"]), "Sum") == 120
    assert total(stats(cloudwatch, stream, "PutRecord.Success", ["Sum"]), "Sum") == 3
    assert total(stats(cloudwatch, stream, "IncomingBytes", ["Sum"]), "Sum") == 120 * 100 + 3 * 10
    assert total(stats(cloudwatch, stream, "WriteProvisionedThroughputExceeded", ["Sum"]), "Sum") == 0
    latency = stats(cloudwatch, stream, "PutRecords.Latency", ["Average", "Maximum"])
    assert latency and all(0 < p["Average"] <= p["Maximum"] < 10_000 for p in latency)

    # The same values through /metrics.
    m = prometheus(endpoint)
    label = f'{{stream_name="{stream}"}}'
    assert m[f"weir_kinesis_incoming_records_total{label}"] == n
    assert m[f"weir_kinesis_get_records_iterator_age_milliseconds{label}"] == age_ms
    assert m[f"weir_kinesis_get_records_records_total{label}"] == read
    assert m[f"weir_kinesis_put_records_latency_milliseconds_count{label}"] == 2
    assert m["process_resident_memory_bytes"] > 0
    assert m["process_open_fds"] > 0
    assert m["weir_uptime_seconds"] > 0


def test_get_metric_data_and_percentiles(kinesis, cloudwatch, stream):
    n, _, _, _ = put_and_read(kinesis, stream, age_s=0.2)
    start, end = window()

    def q(i, metric, stat, **kw):
        return {"Id": i, "MetricStat": {"Metric": {
            "Namespace": NS, "MetricName": metric,
            "Dimensions": [{"Name": "StreamName", "Value": stream}]},
            "Period": 60, "Stat": stat}, **kw}

    out = cloudwatch.get_metric_data(MetricDataQueries=[
        q("incoming", "IncomingRecords", "Sum"),
        q("age", "GetRecords.IteratorAgeMilliseconds", "Maximum", Label="age"),
        q("p99", "PutRecords.Latency", "p99"),
        q("hidden", "IncomingRecords", "Sum", ReturnData=False),
    ], StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"incoming", "age", "p99"}
    assert sum(results["incoming"]["Values"]) == n
    assert results["incoming"]["StatusCode"] == "Complete"
    assert len(results["incoming"]["Timestamps"]) == len(results["incoming"]["Values"])
    assert results["age"]["Label"] == "age"
    assert max(results["age"]["Values"]) >= 200
    assert all(v > 0 for v in results["p99"]["Values"]) and results["p99"]["Values"]

    ext = cloudwatch.get_metric_statistics(
        Namespace=NS, MetricName="PutRecords.Latency",
        Dimensions=[{"Name": "StreamName", "Value": stream}],
        StartTime=start, EndTime=end, Period=60, ExtendedStatistics=["p50", "p99"])["Datapoints"]
    assert ext and all(set(p["ExtendedStatistics"]) == {"p50", "p99"} for p in ext)
    assert all(p["ExtendedStatistics"]["p50"] <= p["ExtendedStatistics"]["p99"] for p in ext)


def test_list_metrics_filters_by_name_and_dimensions(kinesis, cloudwatch, stream):
    put_and_read(kinesis, stream, age_s=0)
    listed = cloudwatch.list_metrics(
        Namespace=NS, Dimensions=[{"Name": "StreamName", "Value": stream}])["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"IncomingRecords", "IncomingBytes", "PutRecords.Latency",
            "GetRecords.IteratorAgeMilliseconds", "GetRecords.Records"} <= names
    assert all(m["Namespace"] == NS for m in listed)
    assert all(m["Dimensions"] == [{"Name": "StreamName", "Value": stream}] for m in listed)
    one = cloudwatch.list_metrics(Namespace=NS, MetricName="IncomingRecords",
                                  Dimensions=[{"Name": "StreamName", "Value": stream}])["Metrics"]
    assert [m["MetricName"] for m in one] == ["IncomingRecords"]
    assert cloudwatch.list_metrics(Namespace="AWS/EC2")["Metrics"] == []
    assert cloudwatch.list_metrics(RecentlyActive="PT3H", MetricName="IncomingRecords")["Metrics"]


def test_shard_level_metrics_follow_enhanced_monitoring(kinesis, cloudwatch, make_stream, endpoint):
    stream = make_stream(2)
    kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["IncomingRecords"])
    keys = [f"pk-{i}" for i in range(40)]
    kinesis.put_records(StreamName=stream,
                        Records=[{"PartitionKey": k, "Data": b"d"} for k in keys])
    expected = [0, 0]
    for k in keys:
        expected[expected_shard_index(k, 2)] += 1
    for i in range(2):
        dim = [{"Name": "ShardId", "Value": shard_id(i)}]
        got = stats(cloudwatch, stream, "IncomingRecords", ["Sum"], extra_dims=dim)
        assert total(got, "Sum") == expected[i]
        # Not enabled at shard level: no datapoints.
        assert stats(cloudwatch, stream, "IncomingBytes", ["Sum"], extra_dims=dim) == []
    m = prometheus(endpoint)
    key = f'weir_kinesis_incoming_records_total{{stream_name="{stream}",shard_id="{shard_id(1)}"}}'
    assert m[key] == expected[1]
    shards = cloudwatch.list_metrics(Namespace=NS, MetricName="IncomingRecords",
                                     Dimensions=[{"Name": "StreamName", "Value": stream},
                                                 {"Name": "ShardId"}])["Metrics"]
    assert len(shards) == 2


def test_a_deleted_stream_loses_its_series(kinesis, cloudwatch, make_stream, endpoint):
    stream = make_stream(1)
    kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"1")
    assert stats(cloudwatch, stream, "IncomingRecords", ["Sum"])
    kinesis.delete_stream(StreamName=stream)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            kinesis.describe_stream_summary(StreamName=stream)
        except ClientError:
            break
        time.sleep(0.1)
    assert stats(cloudwatch, stream, "IncomingRecords", ["Sum"]) == []
    assert not any(stream in k for k in prometheus(endpoint))


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_the_other_protocols_give_the_same_answers(kinesis, cloudwatch, stream, endpoint,
                                                   protocol, tmp_path):
    n, _, _, _ = put_and_read(kinesis, stream, age_s=0)
    other = cloudwatch_client(endpoint, protocol=protocol, model_dir=tmp_path)
    assert other.meta.service_model.protocol == protocol
    assert stats(other, stream, "IncomingRecords", ["Sum", "Maximum"]) == \
        stats(cloudwatch, stream, "IncomingRecords", ["Sum", "Maximum"])
    assert total(stats(other, stream, "IncomingRecords", ["Sum"]), "Sum") == n
    listed = other.list_metrics(Namespace=NS, MetricName="IncomingRecords",
                                Dimensions=[{"Name": "StreamName", "Value": stream}])["Metrics"]
    assert len(listed) == 1
    start, end = window()
    data = other.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
        "Namespace": NS, "MetricName": "IncomingRecords",
        "Dimensions": [{"Name": "StreamName", "Value": stream}]}, "Period": 60, "Stat": "Sum"}}],
        StartTime=start, EndTime=end)["MetricDataResults"]
    assert sum(data[0]["Values"]) == n
    with pytest.raises(ClientError) as e:
        other.get_metric_statistics(Namespace=NS, MetricName="IncomingRecords", StartTime=end,
                                    EndTime=start, Period=60, Statistics=["Sum"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_errors_use_cloudwatch_codes(cloudwatch, endpoint):
    start, end = window()
    base = dict(Namespace=NS, MetricName="IncomingRecords", StartTime=start, EndTime=end)
    cases = [
        (dict(base, StartTime=end, EndTime=start, Period=60, Statistics=["Sum"]),
         "InvalidParameterValue", "StartTime must be less than"),
        (dict(base, Period=7, Statistics=["Sum"]), "InvalidParameterValue", "Period"),
        (dict(base, Period=60), "InvalidParameterCombination", "Statistics"),
        (dict(base, StartTime=end - dt.timedelta(hours=2), Period=1, Statistics=["Sum"]),
         "InvalidParameterCombination", "1,440"),
        (dict(base, Period=60, ExtendedStatistics=["p101"]), "InvalidParameterValue", "p101"),
    ]
    for kwargs, code, text in cases:
        with pytest.raises(ClientError) as e:
            cloudwatch.get_metric_statistics(**kwargs)
        err = e.value.response["Error"]
        assert err["Code"] == code, (kwargs, err)
        assert text in err["Message"], (kwargs, err)
    # Modeled exceptions map as in AWS's SDKs.
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException):
        cloudwatch.get_metric_statistics(**dict(base, Period=7, Statistics=["Sum"]))
    raw = cloudwatch_client(endpoint, validate=False)
    with pytest.raises(raw.exceptions.MissingRequiredParameterException):
        raw.get_metric_statistics(Namespace=NS, MetricName="IncomingRecords", Period=60,
                                  Statistics=["Sum"], EndTime=end)
    with pytest.raises(ClientError) as e:
        cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "Bad", "Expression": "1"}],
                                   StartTime=start, EndTime=end)
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_kinesis_answers_for_requests_that_are_not_cloudwatch(endpoint):
    # A form body that is not a CloudWatch action is refused as before CloudWatch was served.
    r = requests.post(endpoint, data="Action=ListQueues", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403
    assert "AccessDeniedException" in r.text
    # An unknown CloudWatch operation over RPC v2.
    r = requests.post(f"{endpoint}/service/GraniteServiceVersion20100801/operation/PutDashboard",
                      data=b"\xa0", timeout=10,
                      headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    assert r.status_code == 404
    assert r.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert re.search(rb"UnknownOperationException", r.content)


def commit_rounds(m: dict[str, float], path: str) -> list[float]:
    """The cumulative bucket counts of weir_storage_commit_round_milliseconds for `path`."""
    name = "weir_storage_commit_round_milliseconds"
    buckets = [v for k, v in m.items() if k.startswith(f'{name}_bucket{{path="{path}",')]
    assert buckets == sorted(buckets), buckets
    assert buckets[-1] == m[f'{name}_count{{path="{path}"}}']
    return buckets


def test_commit_rounds_are_counted_by_duration(kinesis, stream4, endpoint):
    before = prometheus(endpoint)
    kinesis.put_records(StreamName=stream4, Records=[
        {"PartitionKey": f"k{i}", "Data": b"x" * 100} for i in range(40)])
    kinesis.put_record(StreamName=stream4, PartitionKey="one", Data=b"y")
    after = prometheus(endpoint)
    name = "weir_storage_commit_round_milliseconds"
    rounds = sum(commit_rounds(after, p)[-1] - commit_rounds(before, p)[-1]
                 for p in ("segments", "log"))
    # Every acknowledged put waited for a round of its own (the calls do not overlap).
    assert rounds >= 2, rounds
    took = sum(after[f'{name}_sum{{path="{p}"}}'] - before[f'{name}_sum{{path="{p}"}}']
               for p in ("segments", "log"))
    assert took > 0
