"""AWS/Lambda and AWS/Firehose next to AWS/Kinesis: what a client did to a function and to a
DirectPut delivery stream, read back through ListMetrics, GetMetricStatistics and GetMetricData
(boto3's CBOR, and awsJson1.0/awsQuery through a narrowed model), and through /metrics.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from test_firehose import firehose_client, s3_config, wait_active
from test_lambda import create_zip_function, lambda_client
from test_metrics import cloudwatch_client, prometheus
from weirtest import unique_name

pytest.importorskip("awslambdaric", reason="pip install awslambdaric (tests/python/requirements.txt)")

INVOCATIONS = 7
FAILURES = 3
FLAKY = ("def handler(event, context):\n"
         "    if event.get('fail'):\n"
         "        raise RuntimeError('asked to fail')\n"
         "    return {'ok': True}\n")


@pytest.fixture(scope="module")
def cloudwatch(endpoint):
    return cloudwatch_client(endpoint)


@pytest.fixture(scope="module")
def invoked(endpoint):
    """A function invoked INVOCATIONS times, FAILURES of them failing."""
    lam = lambda_client(endpoint)
    fn = unique_name("metered")
    create_zip_function(lam, fn, {"flaky.py": FLAKY}, "flaky.handler")
    for i in range(INVOCATIONS):
        out = lam.invoke(FunctionName=fn, Payload=json.dumps({"fail": i < FAILURES}).encode())
        assert ("FunctionError" in out) == (i < FAILURES)
    return fn


@pytest.fixture(scope="module")
def delivered(endpoint):
    """A DirectPut delivery stream given 8 records of 10 bytes."""
    fh = firehose_client(endpoint)
    name = unique_name("metered")
    fh.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                              ExtendedS3DestinationConfiguration=s3_config(unique_name("met")))
    wait_active(fh, name)
    fh.put_record_batch(DeliveryStreamName=name,
                        Records=[{"Data": b"0123456789"} for _ in range(7)])
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"abcdefghij"})
    return name


def window():
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=1)


def statistics(cw, namespace, metric, dims, statistics, **kw):
    start, end = window()
    out = cw.get_metric_statistics(Namespace=namespace, MetricName=metric, Dimensions=dims,
                                   StartTime=start, EndTime=end, Period=60,
                                   Statistics=statistics, **kw)
    assert out["Label"] == metric
    return out["Datapoints"]


def metric_data(cw, namespace, metric, dims, stat) -> list[float]:
    start, end = window()
    out = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "q", "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric,
                                             "Dimensions": dims},
                                  "Period": 60, "Stat": stat}}])
    (result,) = out["MetricDataResults"]
    assert result["StatusCode"] == "Complete"
    assert len(result["Timestamps"]) == len(result["Values"])
    return result["Values"]


def function_dims(fn):
    return [{"Name": "FunctionName", "Value": fn}]


def stream_dims(name):
    return [{"Name": "DeliveryStreamName", "Value": name}]


def test_lambda_invocations_and_errors_per_function(cloudwatch, invoked):
    dims = function_dims(invoked)
    points = statistics(cloudwatch, "AWS/Lambda", "Invocations", dims, ["Sum", "SampleCount"])
    assert points and all(p["Unit"] == "Count" for p in points)
    assert sum(p["Sum"] for p in points) == INVOCATIONS
    assert sum(p["SampleCount"] for p in points) == INVOCATIONS
    errors = statistics(cloudwatch, "AWS/Lambda", "Errors", dims, ["Sum"])
    assert sum(p["Sum"] for p in errors) == FAILURES
    assert sum(metric_data(cloudwatch, "AWS/Lambda", "Invocations", dims, "Sum")) == INVOCATIONS
    assert sum(metric_data(cloudwatch, "AWS/Lambda", "Errors", dims, "Sum")) == FAILURES

    duration = statistics(cloudwatch, "AWS/Lambda", "Duration", dims,
                          ["SampleCount", "Average", "Minimum", "Maximum"],
                          ExtendedStatistics=["p99"])
    assert sum(p["SampleCount"] for p in duration) == INVOCATIONS
    for p in duration:
        assert p["Unit"] == "Milliseconds"
        assert 0 < p["Minimum"] <= p["Average"] <= p["Maximum"]
        assert p["Minimum"] <= p["ExtendedStatistics"]["p99"] <= p["Maximum"]
    # One at a time: never more than one running.
    concurrent = statistics(cloudwatch, "AWS/Lambda", "ConcurrentExecutions", dims, ["Maximum"])
    assert [p["Maximum"] for p in concurrent] == [1.0] * len(concurrent) and concurrent
    # Asking for another unit than the metric's finds nothing, as CloudWatch does.
    assert statistics(cloudwatch, "AWS/Lambda", "Invocations", dims, ["Sum"], Unit="Bytes") == []


def test_lambda_account_aggregate_has_no_dimensions(cloudwatch, invoked):
    points = statistics(cloudwatch, "AWS/Lambda", "Invocations", [], ["Sum"])
    assert sum(p["Sum"] for p in points) >= INVOCATIONS
    listed = cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations")["Metrics"]
    assert {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Dimensions": []} in listed


def test_lambda_metrics_are_listed(cloudwatch, invoked):
    listed = cloudwatch.list_metrics(Namespace="AWS/Lambda",
                                     Dimensions=function_dims(invoked))["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions"} <= names
    assert all(m["Namespace"] == "AWS/Lambda" and m["Dimensions"] == function_dims(invoked)
               for m in listed)
    # A dimension filter by name alone matches across namespaces only where the name exists.
    by_name = cloudwatch.list_metrics(Dimensions=[{"Name": "FunctionName"}])["Metrics"]
    assert {m["Namespace"] for m in by_name} == {"AWS/Lambda"}


def test_firehose_incoming_records_through_list_and_get_metric_data(cloudwatch, delivered):
    listed = cloudwatch.list_metrics(Namespace="AWS/Firehose",
                                     Dimensions=stream_dims(delivered))["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"IncomingRecords", "IncomingBytes"} <= names
    assert all(m["Dimensions"] == stream_dims(delivered) for m in listed)
    for m in listed:
        if m["MetricName"] == "IncomingRecords":
            values = metric_data(cloudwatch, m["Namespace"], m["MetricName"], m["Dimensions"],
                                 "Sum")
            assert sum(values) == 8
    assert sum(metric_data(cloudwatch, "AWS/Firehose", "IncomingBytes",
                           stream_dims(delivered), "Sum")) == 80
    # The Kinesis namespace has a metric of the same name; the dimension tells them apart.
    assert metric_data(cloudwatch, "AWS/Kinesis", "IncomingRecords",
                       stream_dims(delivered), "Sum") == []


def test_list_metrics_pages_across_namespaces(cloudwatch, invoked, delivered):
    everything = []
    token = None
    while True:
        page = cloudwatch.list_metrics(**({"NextToken": token} if token else {}))
        everything += page["Metrics"]
        token = page.get("NextToken")
        if not token:
            break
    namespaces = {m["Namespace"] for m in everything}
    assert {"AWS/Firehose", "AWS/Lambda"} <= namespaces
    assert len({json.dumps(m, sort_keys=True) for m in everything}) == len(everything)


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_the_other_protocols_read_the_new_namespaces(endpoint, cloudwatch, invoked, delivered,
                                                     protocol, tmp_path):
    other = cloudwatch_client(endpoint, protocol=protocol, model_dir=tmp_path)
    for ns, metric, dims in [("AWS/Lambda", "Invocations", function_dims(invoked)),
                             ("AWS/Lambda", "Invocations", []),
                             ("AWS/Firehose", "IncomingRecords", stream_dims(delivered))]:
        assert statistics(other, ns, metric, dims, ["Sum"]) == \
            statistics(cloudwatch, ns, metric, dims, ["Sum"])
    listed = other.list_metrics(Namespace="AWS/Lambda", MetricName="Errors",
                                Dimensions=function_dims(invoked))["Metrics"]
    assert listed == [{"Namespace": "AWS/Lambda", "MetricName": "Errors",
                       "Dimensions": function_dims(invoked)}]


def test_prometheus_agrees(endpoint, invoked, delivered):
    m = prometheus(endpoint)
    fn = f'{{function_name="{invoked}"}}'
    assert m[f"weir_lambda_invocations_total{fn}"] == INVOCATIONS
    assert m[f"weir_lambda_errors_total{fn}"] == FAILURES
    assert m[f"weir_lambda_duration_milliseconds_count{fn}"] == INVOCATIONS
    assert m[f"weir_lambda_duration_milliseconds_sum{fn}"] > 0
    assert m[f'weir_lambda_duration_milliseconds_bucket{{function_name="{invoked}",le="+Inf"}}'] \
        == INVOCATIONS
    assert m[f"weir_lambda_concurrent_executions{fn}"] == 1
    ds = f'{{delivery_stream_name="{delivered}"}}'
    assert m[f"weir_firehose_incoming_records_total{ds}"] == 8
    assert m[f"weir_firehose_incoming_bytes_total{ds}"] == 80
