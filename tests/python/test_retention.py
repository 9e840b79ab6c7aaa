"""Increase/DecreaseStreamRetentionPeriod (24..8760 h)."""

import pytest
from botocore.exceptions import ClientError

from weirtest import assert_client_error, not_found_msg, unique_name


def retention(kinesis, name):
    a = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    b = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert a["RetentionPeriodHours"] == b["RetentionPeriodHours"]
    return a["RetentionPeriodHours"]


def test_default_is_24(kinesis, stream):
    assert retention(kinesis, stream) == 24


def test_increase_then_decrease(kinesis, stream, addr):
    kinesis.increase_stream_retention_period(**addr(stream), RetentionPeriodHours=48)
    assert retention(kinesis, stream) == 48
    kinesis.increase_stream_retention_period(**addr(stream), RetentionPeriodHours=8760)
    assert retention(kinesis, stream) == 8760
    kinesis.decrease_stream_retention_period(**addr(stream), RetentionPeriodHours=168)
    assert retention(kinesis, stream) == 168
    kinesis.decrease_stream_retention_period(**addr(stream), RetentionPeriodHours=24)
    assert retention(kinesis, stream) == 24
    # Stream stays usable afterwards.
    kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
    assert kinesis.describe_stream_summary(
        StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] in ("ACTIVE", "UPDATING")


def test_increase_above_max(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=8761)
    assert_client_error(e, "InvalidArgumentException", ["retention"], message=(
        "Maximum allowed retention period is 8760 hours. "
        "Requested retention period (8761 hours) is too long."))
    assert retention(kinesis, stream) == 24


def test_decrease_below_min(kinesis, stream):
    kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=23)
    assert_client_error(e, "InvalidArgumentException", ["retention"], message=(
        "Minimum allowed retention period is 24 hours. "
        "Requested retention period (23 hours) is too short."))
    assert retention(kinesis, stream) == 48


def test_increase_with_smaller_value(kinesis, stream):
    kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=72)
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    assert_client_error(e, "InvalidArgumentException", ["retention"], message=(
        f"Requested retention period (48 hours) for stream {stream} can not be shorter than "
        "existing retention period (72 hours). Use DecreaseRetentionPeriod API."))
    assert retention(kinesis, stream) == 72


def test_decrease_with_larger_value(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    assert_client_error(e, "InvalidArgumentException", ["retention"], message=(
        f"Requested retention period (48 hours) for stream {stream} can not be longer than "
        "existing retention period (24 hours). Use IncreaseRetentionPeriod API."))
    assert retention(kinesis, stream) == 24


def test_same_value_is_a_no_op(kinesis, stream):
    kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
    kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
    assert retention(kinesis, stream) == 24


@pytest.mark.parametrize("hours", [0, -1])
def test_increase_below_min(raw_kinesis, kinesis, stream, hours):
    with pytest.raises(ClientError) as e:
        raw_kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=hours)
    assert_client_error(e, {"InvalidArgumentException", "ValidationException"}, ["retention"])
    assert retention(kinesis, stream) == 24


def test_retention_missing_stream(kinesis):
    name = unique_name("nope")
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))


def test_increase_to_23_is_too_short(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=23)
    assert_client_error(e, "InvalidArgumentException", ["retention"], message=(
        "Minimum allowed retention period is 24 hours. "
        "Requested retention period (23 hours) is too short."))
