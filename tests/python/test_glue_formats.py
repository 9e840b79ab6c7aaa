"""The Glue Data Catalog API (boto3 `glue` client) and record format conversion.

Glue: databases and tables through boto3 against a running weir, checking Glue's shapes and
error types/wording. Conversion: `weir formats convert` (the converter Firehose delivery uses)
writes Parquet and ORC files that an independent reader, pyarrow, reads back.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import boto3
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pyarrow as pa
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from weirtest import ACCESS_KEY, REGION, SECRET_KEY, unique_name, weir_bin


def glue_client(endpoint: str, validate: bool = True):
    cfg = Config(region_name=REGION, retries={"mode": "standard", "total_max_attempts": 1},
                 parameter_validation=validate)
    return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                 region_name=REGION).client("glue", endpoint_url=endpoint, config=cfg)


@pytest.fixture
def glue(endpoint):
    return glue_client(endpoint)


def db_name() -> str:
    return unique_name("db").replace("-", "_")


def error(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


TABLE_INPUT = {
    "Name": "events",
    "Description": "click stream",
    "Owner": "analytics",
    "Retention": 0,
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "parquet"},
    "PartitionKeys": [{"Name": "dt", "Type": "string"}],
    "StorageDescriptor": {
        "Columns": [
            {"Name": "id", "Type": "bigint", "Comment": "event id"},
            {"Name": "user", "Type": "struct<name:string,age:int>"},
            {"Name": "tags", "Type": "array<string>"},
            {"Name": "ts", "Type": "timestamp"},
        ],
        "Location": "s3://bucket/events/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary":
                      "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                      "Parameters": {"serialization.format": "1"}},
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SortColumns": [],
        "StoredAsSubDirectories": False,
    },
}


def test_database_lifecycle_and_errors(glue):
    name = db_name()
    glue.create_database(DatabaseInput={"Name": name, "Description": "d1",
                                        "LocationUri": "s3://bucket/db/",
                                        "Parameters": {"k": "v"}})
    db = glue.get_database(Name=name)["Database"]
    assert db["Name"] == name
    assert db["Description"] == "d1"
    assert db["LocationUri"] == "s3://bucket/db/"
    assert db["Parameters"] == {"k": "v"}
    assert db["CatalogId"] == "000000000000"
    assert isinstance(db["CreateTime"], dt.datetime)
    assert abs((dt.datetime.now(dt.timezone.utc) - db["CreateTime"]).total_seconds()) < 60
    assert db["CreateTableDefaultPermissions"] == [
        {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
         "Permissions": ["ALL"]}]

    with pytest.raises(ClientError) as e:
        glue.create_database(DatabaseInput={"Name": name})
    assert error(e) == ("AlreadyExistsException", "Database already exists.", 400)
    with pytest.raises(glue.exceptions.EntityNotFoundException) as e:
        glue.get_database(Name="no_such_db")
    assert error(e)[1] == "Database no_such_db not found."

    # Names are stored lowercased, as Glue stores them.
    upper = db_name().upper()
    glue.create_database(DatabaseInput={"Name": upper})
    assert glue.get_database(Name=upper)["Database"]["Name"] == upper.lower()

    glue.update_database(Name=name, DatabaseInput={"Name": name, "Description": "d2"})
    db2 = glue.get_database(Name=name)["Database"]
    assert db2["Description"] == "d2"
    assert db2["CreateTime"] == db["CreateTime"]

    names = [d["Name"] for page in glue.get_paginator("get_databases").paginate(
        PaginationConfig={"PageSize": 1}) for d in page["DatabaseList"]]
    assert name in names and upper.lower() in names
    assert names == sorted(names)

    glue.delete_database(Name=name)
    glue.delete_database(Name=upper)
    with pytest.raises(glue.exceptions.EntityNotFoundException) as e:
        glue.delete_database(Name=name)
    assert error(e)[1] == f"Database {name} not found."


def test_table_lifecycle_shapes_and_errors(glue):
    db = db_name()
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput=TABLE_INPUT)

    t = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert t["Name"] == "events"
    assert t["DatabaseName"] == db
    assert t["VersionId"] == "0"
    assert t["CatalogId"] == "000000000000"
    assert t["IsRegisteredWithLakeFormation"] is False
    assert isinstance(t["CreateTime"], dt.datetime) and isinstance(t["UpdateTime"], dt.datetime)
    for k in ("Description", "Owner", "Retention", "TableType", "Parameters", "PartitionKeys",
              "StorageDescriptor"):
        assert t[k] == TABLE_INPUT[k], k

    with pytest.raises(ClientError) as e:
        glue.create_table(DatabaseName=db, TableInput=TABLE_INPUT)
    assert error(e) == ("AlreadyExistsException", "Table already exists.", 400)
    with pytest.raises(glue.exceptions.EntityNotFoundException) as e:
        glue.create_table(DatabaseName="no_such_db", TableInput=TABLE_INPUT)
    assert error(e)[1] == "Database no_such_db not found."
    with pytest.raises(glue.exceptions.EntityNotFoundException) as e:
        glue.get_table(DatabaseName=db, Name="nope")
    assert error(e)[1] == "Table nope not found."

    for n in ("orders", "returns"):
        glue.create_table(DatabaseName=db, TableInput={
            "Name": n, "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}})
    listed = [t["Name"] for page in glue.get_paginator("get_tables").paginate(
        DatabaseName=db, PaginationConfig={"PageSize": 1}) for t in page["TableList"]]
    assert listed == ["events", "orders", "returns"]
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db, Expression="ret*")["TableList"]] \
        == ["returns"]

    changed = dict(TABLE_INPUT, Description="v2")
    glue.update_table(DatabaseName=db, TableInput=changed, VersionId="0")
    t2 = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert (t2["Description"], t2["VersionId"]) == ("v2", "1")
    assert t2["CreateTime"] == t["CreateTime"]
    with pytest.raises(ClientError) as e:
        glue.update_table(DatabaseName=db, TableInput=changed, VersionId="0")
    assert error(e) == ("ConcurrentModificationException",
                        "Update table failed due to concurrent modifications.", 400)

    glue.delete_table(DatabaseName=db, Name="orders")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_table(DatabaseName=db, Name="orders")
    glue.delete_database(Name=db)
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=db, Name="events")


def test_model_violations_are_validation_errors(endpoint):
    glue = glue_client(endpoint, validate=False)
    with pytest.raises(ClientError) as e:
        glue.create_database(DatabaseInput={"Name": ""})
    code, msg, status = error(e)
    assert (code, status) == ("ValidationException", 400)
    assert msg == ("1 validation error detected: Value '' at 'databaseInput.name' failed to "
                   "satisfy constraint: Member must have length greater than or equal to 1")
    with pytest.raises(ClientError) as e:
        glue.get_databases(MaxResults=1000)
    assert "Member must have value less than or equal to 100" in error(e)[1]


def test_catalog_survives_a_restart(fresh_server):
    glue = glue_client(fresh_server.endpoint)
    db = db_name()
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput=TABLE_INPUT)
    fresh_server.restart(graceful=True)
    glue = glue_client(fresh_server.endpoint)
    t = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert t["StorageDescriptor"]["Columns"] == TABLE_INPUT["StorageDescriptor"]["Columns"]


def test_weir_glue_cli(endpoint, glue):
    db = db_name()
    run = lambda *a: subprocess.run([str(weir_bin()), "glue", "--endpoint", endpoint, *a],
                                    capture_output=True, text=True, timeout=30)
    assert run("create-database", "--database", db).returncode == 0
    p = run("create-table", "--database", db, "--table", "t",
            "--columns", "a:string,b:bigint,c:map<string,decimal(10,2)>")
    assert p.returncode == 0, p.stderr
    cols = glue.get_table(DatabaseName=db, Name="t")["Table"]["StorageDescriptor"]["Columns"]
    assert cols == [{"Name": "a", "Type": "string"}, {"Name": "b", "Type": "bigint"},
                    {"Name": "c", "Type": "map<string,decimal(10,2)>"}]
    p = run("get-table", "--database", db, "--table", "t")
    assert json.loads(p.stdout)["Table"]["VersionId"] == "0"
    p = run("create-table", "--database", db, "--table", "t", "--columns", "a:int")
    assert p.returncode != 0 and "AlreadyExistsException: Table already exists." in p.stderr


# ------------------------------------------------------------------ format conversion

RECORDS = [
    {"id": 1, "User": {"Name": "ann", "age": 31}, "tags": ["a", "b"],
     "ts": "2018-02-07T19:58:48.123456Z", "price": "12.34", "attrs": {"x": 1}},
    {"id": "2", "ts": 1518033528, "tags": []},
    {"id": "three"},                      # does not fit bigint -> failed
    {"id": 4, "ts": 1518033528123},
]


def convert(args: list[str], records: list, tmp_path, name: str):
    lines = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"
    out = tmp_path / name
    with open(out, "wb") as f:
        p = subprocess.run([str(weir_bin()), "formats", "convert", *args], input=lines.encode(),
                           stdout=f, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    failed = [json.loads(l) for l in p.stderr.decode().splitlines() if l.startswith("{")]
    return out, failed


@pytest.mark.parametrize("compression", ["SNAPPY", "GZIP", "UNCOMPRESSED"])
def test_parquet_reads_back_with_pyarrow(tmp_path, compression):
    cols = ("id:bigint,user:struct<name:string,age:int>,tags:array<string>,ts:timestamp,"
            "price:decimal(10,2),attrs:map<string,int>")
    path, failed = convert(["--columns", cols, "--format", "parquet", "--compression",
                            compression], RECORDS, tmp_path, "out.parquet")
    assert [f["index"] for f in failed] == [2]
    assert "cannot convert \"three\" to bigint" in failed[0]["message"]
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == compression
    table = pq.read_table(path)
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 4]
    assert rows[0]["user"] == {"name": "ann", "age": 31}
    assert rows[1]["user"] is None          # a missing field is null
    assert rows[0]["tags"] == ["a", "b"] and rows[1]["tags"] == []
    assert rows[0]["ts"] == dt.datetime(2018, 2, 7, 19, 58, 48, 123456)
    assert rows[1]["ts"] == dt.datetime(2018, 2, 7, 19, 58, 48)
    assert rows[2]["ts"] == dt.datetime(2018, 2, 7, 19, 58, 48, 123000)
    assert str(rows[0]["price"]) == "12.34"
    assert rows[0]["attrs"] == [("x", 1)]


@pytest.mark.parametrize("compression", ["SNAPPY", "ZLIB", "NONE"])
def test_orc_reads_back_with_pyarrow(tmp_path, compression):
    path, failed = convert(["--columns", "id:bigint,name:string,ts:timestamp,ok:boolean,x:double",
                            "--format", "orc", "--compression", compression],
                           [{"id": 1, "name": "a", "ts": "2018-02-07 19:58:48", "ok": True, "x": 1.5},
                            {"id": 2}, "not json"], tmp_path, "out.orc")
    assert [f["index"] for f in failed] == [2]
    f = orc.ORCFile(path)
    assert f.compression == ("UNCOMPRESSED" if compression == "NONE" else compression)
    rows = f.read().to_pylist()
    assert rows[0]["id"] == 1 and rows[0]["name"] == "a" and rows[0]["ok"] is True
    assert rows[0]["ts"].replace(tzinfo=None) == dt.datetime(2018, 2, 7, 19, 58, 48)
    assert rows[1] == {"id": 2, "name": None, "ts": None, "ok": None, "x": None}


def test_orc_refuses_nested_columns(tmp_path):
    p = subprocess.run([str(weir_bin()), "formats", "convert", "--columns", "a:array<int>",
                        "--format", "orc"], input=b"{}\n", capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"ORC output supports only flat columns" in p.stderr


def test_convert_with_a_table_from_the_glue_api(endpoint, glue, tmp_path):
    db = db_name()
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput=TABLE_INPUT)
    table_file = tmp_path / "table.json"
    table_file.write_text(json.dumps(glue.get_table(DatabaseName=db, Name="events"),
                                     default=str))
    path, failed = convert(["--table-json", str(table_file)],
                           [{"ID": 7, "USER": {"NAME": "x"}, "Tags": ["t"], "ts": 0}],
                           tmp_path, "glue.parquet")
    assert failed == []
    rows = pq.read_table(path).to_pylist()
    assert rows == [{"id": 7, "user": {"name": "x", "age": None}, "tags": ["t"],
                     "ts": dt.datetime(1970, 1, 1)}]
