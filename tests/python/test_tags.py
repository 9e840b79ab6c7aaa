"""AddTagsToStream / RemoveTagsFromStream / ListTagsForStream and the *Resource variants."""

import pytest
from botocore.exceptions import ClientError

from weirtest import assert_client_error, not_found_msg, stream_arn, unique_name


def tagmap(tags):
    return {t["Key"]: t.get("Value", "") for t in tags}


def test_add_list_remove_tags(kinesis, stream, addr):
    kinesis.add_tags_to_stream(**addr(stream), Tags={"b": "2", "a": "1", "c": "3"})
    resp = kinesis.list_tags_for_stream(**addr(stream))
    assert tagmap(resp["Tags"]) == {"a": "1", "b": "2", "c": "3"}
    assert resp["HasMoreTags"] is False
    # Overwrite a value, add another.
    kinesis.add_tags_to_stream(**addr(stream), Tags={"a": "one", "d": ""})
    assert tagmap(kinesis.list_tags_for_stream(**addr(stream))["Tags"]) == {
        "a": "one", "b": "2", "c": "3", "d": ""}
    kinesis.remove_tags_from_stream(**addr(stream), TagKeys=["b", "d", "not-there"])
    assert tagmap(kinesis.list_tags_for_stream(**addr(stream))["Tags"]) == {"a": "one", "c": "3"}


def test_list_tags_paging(kinesis, stream):
    tags = {f"key{i:02d}": f"v{i}" for i in range(7)}
    kinesis.add_tags_to_stream(StreamName=stream, Tags=tags)
    resp = kinesis.list_tags_for_stream(StreamName=stream, Limit=3)
    assert [t["Key"] for t in resp["Tags"]] == ["key00", "key01", "key02"]
    assert resp["HasMoreTags"] is True
    resp = kinesis.list_tags_for_stream(StreamName=stream, Limit=3, ExclusiveStartTagKey="key02")
    assert [t["Key"] for t in resp["Tags"]] == ["key03", "key04", "key05"]
    assert resp["HasMoreTags"] is True
    resp = kinesis.list_tags_for_stream(StreamName=stream, Limit=3, ExclusiveStartTagKey="key05")
    assert [t["Key"] for t in resp["Tags"]] == ["key06"]
    assert resp["HasMoreTags"] is False
    resp = kinesis.list_tags_for_stream(StreamName=stream, ExclusiveStartTagKey="key06")
    assert resp["Tags"] == [] and resp["HasMoreTags"] is False
    resp = kinesis.list_tags_for_stream(StreamName=stream, Limit=7)
    assert len(resp["Tags"]) == 7 and resp["HasMoreTags"] is False
    assert tagmap(resp["Tags"]) == tags


def test_list_tags_empty(kinesis, stream):
    resp = kinesis.list_tags_for_stream(StreamName=stream)
    assert resp["Tags"] == [] and resp["HasMoreTags"] is False
    assert kinesis.list_tags_for_resource(ResourceARN=stream_arn(stream)).get("Tags", []) == []


def test_list_tags_limit_bounds(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.list_tags_for_stream(StreamName=stream, Limit=51)
    assert_client_error(e, "ValidationException", ["limit"])


def test_tag_resource_by_arn(kinesis, stream):
    arn = stream_arn(stream)
    kinesis.tag_resource(ResourceARN=arn, Tags={"x": "1", "y": "2"})
    resp = kinesis.list_tags_for_resource(ResourceARN=arn)
    assert tagmap(resp["Tags"]) == {"x": "1", "y": "2"}
    # Both APIs see the same tag set.
    assert tagmap(kinesis.list_tags_for_stream(StreamName=stream)["Tags"]) == {"x": "1", "y": "2"}
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["x"])
    assert tagmap(kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]) == {"y": "2"}
    kinesis.add_tags_to_stream(StreamName=stream, Tags={"z": "3"})
    assert tagmap(kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]) == {"y": "2", "z": "3"}


def test_tag_resource_missing_stream(kinesis):
    arn = stream_arn(unique_name("nope"))
    for call, kw in [(kinesis.tag_resource, {"Tags": {"a": "b"}}),
                     (kinesis.untag_resource, {"TagKeys": ["a"]}),
                     (kinesis.list_tags_for_resource, {})]:
        with pytest.raises(ClientError) as e:
            call(ResourceARN=arn, **kw)
        assert_client_error(e, "ResourceNotFoundException")


def test_tag_resource_bad_arn(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.list_tags_for_resource(ResourceARN="not-an-arn")
    assert_client_error(e, {"InvalidArgumentException", "ValidationException",
                            "ResourceNotFoundException"})


def test_tags_missing_stream(kinesis):
    name = unique_name("nope")
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=name, Tags={"a": "b"})
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))
    with pytest.raises(ClientError) as e:
        kinesis.list_tags_for_stream(StreamName=name)
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))
    with pytest.raises(ClientError) as e:
        kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["a"])
    assert_client_error(e, "ResourceNotFoundException", [name], message=not_found_msg(name))


def test_too_many_tags(kinesis, stream):
    kinesis.add_tags_to_stream(StreamName=stream, Tags={f"k{i}": "v" for i in range(50)})
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=stream, Tags={"one-too-many": "v"})
    assert_client_error(e, "InvalidArgumentException", ["tags"])
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith(f"Failed to add tags to stream {stream} under account ")
    assert "cannot have more than" in msg
    assert len(kinesis.list_tags_for_stream(StreamName=stream, Limit=50)["Tags"]) == 50


def test_tag_key_too_long(raw_kinesis, stream):
    with pytest.raises(ClientError) as e:
        raw_kinesis.add_tags_to_stream(StreamName=stream, Tags={"k" * 129: "v"})
    assert_client_error(e, "ValidationException", ["tags"])
    with pytest.raises(ClientError) as e:
        raw_kinesis.add_tags_to_stream(StreamName=stream, Tags={"k": "v" * 257})
    assert_client_error(e, "ValidationException", ["tags"])


def test_tag_invalid_characters(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.add_tags_to_stream(StreamName=stream, Tags={"semi;colon": "v"})
    assert_client_error(e, "InvalidArgumentException", ["tags"], message=(
        "Some tags contain invalid characters. Valid characters: "
        "Unicode letters, digits, white space, _ . / = + - % @."))


def test_remove_missing_tag_is_noop(kinesis, stream):
    kinesis.remove_tags_from_stream(StreamName=stream, TagKeys=["never-set"])
    assert kinesis.list_tags_for_stream(StreamName=stream)["Tags"] == []
