//! The converter end to end: JSON records in, a Parquet or ORC file out, read back with the
//! parquet crate's and orc-rust's own readers.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{json, Value};
use weir_formats::{Converter, Table};

fn parquet(extra: Value) -> Value {
    json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": extra}}})
}

fn convert(config: &Value, columns: &str, records: &[Value]) -> weir_formats::Converted {
    let table = Table::from_column_spec("t", columns).unwrap();
    let conv = Converter::new(config, &table).unwrap();
    let bytes: Vec<Vec<u8>> = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    conv.convert(&refs).unwrap()
}

fn read_parquet(file: &[u8]) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(file))
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow_select_concat(&batches)
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    assert_eq!(batches.len(), 1, "one batch expected for small files");
    batches[0].clone()
}

#[test]
fn flat_types_round_trip_with_nulls_and_failures() {
    let records = vec![
        json!({"id": 1, "name": "a", "score": 1.5, "ok": true, "small": 7, "tiny": -3,
               "ts": "2018-02-07T19:58:48.123456Z", "day": "2018-02-07", "n": 10}),
        json!({"ID": "2", "Name": 5, "OK": "false", "ts": 1518033528}),
        json!({"id": "not a number"}),
        json!([1, 2]),
        json!({"id": 3, "tiny": 1000}),
        json!({"id": 4, "ts": 1518033528123i64, "unknown": {"ignored": true}}),
    ];
    let out = convert(
        &parquet(json!({})),
        "id:bigint,name:string,score:double,ok:boolean,small:smallint,tiny:tinyint,ts:timestamp,day:date,n:int",
        &records,
    );
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [2, 3, 4], "{:?}", out.failed);
    assert!(out.failed[0]
        .1
        .contains("id: cannot convert \"not a number\" to bigint"));
    assert!(out.failed[2].1.contains("tiny"), "{}", out.failed[2].1);
    assert_eq!(out.rows, 3);

    let b = read_parquet(&out.file);
    assert_eq!(b.num_rows(), 3);
    let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
    assert_eq!(ids.values(), &[1, 2, 4]);
    let names = b.column_by_name("name").unwrap().as_string::<i32>();
    assert_eq!(names.value(0), "a");
    assert_eq!(names.value(1), "5");
    assert!(names.is_null(2), "a missing field is null");
    let ok = b.column_by_name("ok").unwrap().as_boolean();
    assert!(ok.value(0) && !ok.value(1) && ok.is_null(2));
    assert_eq!(
        b.column_by_name("score")
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0),
        1.5
    );
    assert_eq!(
        b.column_by_name("small")
            .unwrap()
            .as_primitive::<Int16Type>()
            .value(0),
        7
    );
    assert_eq!(
        b.column_by_name("tiny")
            .unwrap()
            .as_primitive::<Int8Type>()
            .value(0),
        -3
    );
    assert_eq!(
        b.column_by_name("n")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        10
    );
    let ts_col = b.column_by_name("ts").unwrap();
    assert_eq!(
        ts_col.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None),
        "Parquet timestamps are microseconds"
    );
    let ts = ts_col.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(0), 1_518_033_528_123_456);
    assert_eq!(ts.value(1), 1_518_033_528_000_000);
    assert_eq!(ts.value(2), 1_518_033_528_123_000);
    let day = b
        .column_by_name("day")
        .unwrap()
        .as_primitive::<Date32Type>();
    assert_eq!(day.value(0), 17569);
}

#[test]
fn nested_types_round_trip() {
    let records = vec![
        json!({"tags": ["a", "b"], "attrs": {"x": 1, "y": 2},
               "user": {"Name": "n", "address": {"city": "c", "zip": 123}, "scores": [1.5, 2.5]},
               "price": "12.34", "bin": "AAEC"}),
        json!({"tags": [], "price": 5}),
        json!({"tags": "not a list"}),
        json!({"attrs": {"x": "one"}}),
    ];
    let out = convert(
        &parquet(json!({})),
        "tags:array<string>,attrs:map<string,int>,user:struct<name:string,address:struct<city:string,zip:int>,scores:array<double>>,price:decimal(10,2),bin:binary",
        &records,
    );
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [2, 3], "{:?}", out.failed);
    assert!(out.failed[0].1.starts_with("tags: cannot convert"));
    assert!(out.failed[1].1.starts_with("attrs[x]: cannot convert"));
    let b = read_parquet(&out.file);
    assert_eq!(b.num_rows(), 2);

    let tags = b.column_by_name("tags").unwrap().as_list::<i32>();
    let first = tags.value(0);
    let first = first.as_string::<i32>();
    assert_eq!((first.value(0), first.value(1)), ("a", "b"));
    assert_eq!(tags.value(1).len(), 0);

    let attrs = b.column_by_name("attrs").unwrap().as_map();
    let entries = attrs.value(0);
    let keys = entries.column(0).as_string::<i32>();
    let vals = entries.column(1).as_primitive::<Int32Type>();
    assert_eq!((keys.value(0), vals.value(0)), ("x", 1));
    assert_eq!((keys.value(1), vals.value(1)), ("y", 2));
    assert!(attrs.is_null(1));

    let user = b.column_by_name("user").unwrap().as_struct();
    assert_eq!(
        user.column_by_name("name")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "n"
    );
    let address = user.column_by_name("address").unwrap().as_struct();
    assert_eq!(
        address
            .column_by_name("zip")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        123
    );
    assert!(user.is_null(1));

    let price = b.column_by_name("price").unwrap();
    assert_eq!(price.data_type(), &DataType::Decimal128(10, 2));
    let price = price.as_primitive::<Decimal128Type>();
    assert_eq!(price.value(0), 1234);
    assert_eq!(price.value(1), 500);
    let bin = b.column_by_name("bin").unwrap().as_binary::<i32>();
    assert_eq!(bin.value(0), &[0u8, 1, 2]);
}

#[test]
fn every_parquet_codec_is_written_as_asked() {
    for (name, want) in [
        ("UNCOMPRESSED", Compression::UNCOMPRESSED),
        ("SNAPPY", Compression::SNAPPY),
        ("GZIP", Compression::GZIP(Default::default())),
        ("ZSTD", Compression::ZSTD(Default::default())),
    ] {
        let records: Vec<Value> = (0..100)
            .map(|i| json!({"a": format!("value {i}"), "b": i}))
            .collect();
        let out = convert(
            &parquet(json!({"Compression": name})),
            "a:string,b:bigint",
            &records,
        );
        let reader = SerializedFileReader::new(Bytes::from(out.file.clone())).unwrap();
        let rg = reader.metadata().row_group(0);
        let got = rg.column(0).compression();
        assert_eq!(
            std::mem::discriminant(&got),
            std::mem::discriminant(&want),
            "{name}: {got:?}"
        );
        assert_eq!(read_parquet(&out.file).num_rows(), 100);
    }
}

#[test]
fn writer_version_and_dictionary_options() {
    let records: Vec<Value> = (0..50).map(|i| json!({"a": (["x", "y"][i % 2])})).collect();
    let v1 = convert(&parquet(json!({})), "a:string", &records);
    let v2 = convert(
        &parquet(json!({"WriterVersion": "V2", "EnableDictionaryCompression": true})),
        "a:string",
        &records,
    );
    let meta = |f: &[u8]| {
        SerializedFileReader::new(Bytes::copy_from_slice(f))
            .unwrap()
            .metadata()
            .clone()
    };
    assert_eq!(meta(&v1.file).file_metadata().version(), 1);
    assert_eq!(meta(&v2.file).file_metadata().version(), 2);
    let has_dict = |f: &[u8]| {
        meta(f)
            .row_group(0)
            .column(0)
            .dictionary_page_offset()
            .is_some()
    };
    assert!(!has_dict(&v1.file), "Firehose's default: no dictionary");
    assert!(has_dict(&v2.file));
}

#[test]
fn openx_key_options() {
    let records = vec![json!({"Event.Type": "click", "ts_key": 1518033528, "Mixed": 1})];
    let out = convert(
        &parquet(json!({}))
            .as_object()
            .cloned()
            .map(|mut m| {
                m.insert(
                    "InputFormatConfiguration".into(),
                    json!({"Deserializer": {"OpenXJsonSerDe": {
                        "ConvertDotsInJsonKeysToUnderscores": true,
                        "CaseInsensitive": false,
                        "ColumnToJsonKeyMappings": {"when": "ts_key"}
                    }}}),
                );
                Value::Object(m)
            })
            .unwrap(),
        "Event_Type:string,when:timestamp,mixed:int",
        &records,
    );
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let b = read_parquet(&out.file);
    // Column names are lowercased as Glue stores them; with CaseInsensitive off, "Event_Type"
    // (after dots → underscores) no longer matches "event_type", nor "Mixed" "mixed".
    assert!(b.column_by_name("event_type").unwrap().is_null(0));
    assert!(b.column_by_name("mixed").unwrap().is_null(0));
    assert_eq!(
        b.column_by_name("when")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_518_033_528_000_000
    );

    // The default (case-insensitive) finds both.
    let out = convert(
        &json!({"InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {"ConvertDotsInJsonKeysToUnderscores": true}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}),
        "event_type:string,mixed:int",
        &records,
    );
    let b = read_parquet(&out.file);
    assert_eq!(
        b.column_by_name("event_type")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "click"
    );
    assert_eq!(
        b.column_by_name("mixed")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        1
    );
}

#[test]
fn hive_serde_timestamp_formats() {
    let config = json!({
        "InputFormatConfiguration": {"Deserializer": {"HiveJsonSerDe": {"TimestampFormats": ["millis", "dd/MM/yyyy HH:mm"]}}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
    });
    let out = convert(
        &config,
        "t:timestamp",
        &[
            json!({"t": 1518033528123i64}),
            json!({"t": "07/02/2018 19:58"}),
            json!({"t": "2018-02-07 19:58:48"}),
            json!({"t": "garbage"}),
        ],
    );
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].0, 3);
    let b = read_parquet(&out.file);
    let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(t.value(0), 1_518_033_528_123_000);
    assert_eq!(t.value(1), 1_518_033_480_000_000);
    assert_eq!(t.value(2), 1_518_033_528_000_000);
}

#[test]
fn invalid_json_and_overflowing_decimals_fail_alone() {
    let table = Table::from_column_spec("t", "a:int,d:decimal(4,2)").unwrap();
    let conv = Converter::new(&parquet(json!({})), &table).unwrap();
    let recs: Vec<&[u8]> = vec![
        br#"{"a": 1, "d": "12.34"}"#,
        b"{not json",
        br#"{"a": 2, "d": "123456.7"}"#,
        br#"{"a": 3}"#,
    ];
    let out = conv.convert(&recs).unwrap();
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [1, 2], "{:?}", out.failed);
    assert!(out.failed[0].1.starts_with("the record is not valid JSON"));
    let b = read_parquet(&out.file);
    assert_eq!(b.column(0).as_primitive::<Int32Type>().values(), &[1, 3]);
}

#[test]
fn orc_round_trip_and_refusal_of_nested_columns() {
    let config =
        json!({"OutputFormatConfiguration": {"Serializer": {"OrcSerDe": {"Compression": "ZLIB"}}}});
    let records = [
        json!({"id": 1, "name": "a", "ts": "2018-02-07T19:58:48Z", "ok": true, "x": 2.5}),
        json!({"id": 2}),
        json!({"id": "bad"}),
    ];
    let table = Table::from_column_spec(
        "t",
        "id:bigint,name:string,ts:timestamp,ok:boolean,x:double",
    )
    .unwrap();
    let conv = Converter::new(&config, &table).unwrap();
    assert_eq!(conv.extension(), ".orc");
    let bytes: Vec<Vec<u8>> = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    let out = conv.convert(&refs).unwrap();
    assert_eq!(out.failed.len(), 1);
    let reader = orc_rust::ArrowReaderBuilder::try_new(Bytes::from(out.file))
        .unwrap()
        .build();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    assert_eq!(
        b.column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values(),
        &[1, 2]
    );
    assert!(b.column_by_name("name").unwrap().is_null(1));

    for cols in [
        "a:array<int>",
        "a:struct<b:int>",
        "a:map<string,int>",
        "a:decimal(5,2)",
    ] {
        let e = Converter::new(&config, &Table::from_column_spec("t", cols).unwrap()).unwrap_err();
        assert!(e.contains("ORC output supports only flat columns"), "{e}");
    }
    let conv = Converter::new(
        &parquet(json!({})),
        &Table::from_column_spec("t", "a:int").unwrap(),
    )
    .unwrap();
    assert_eq!(conv.extension(), ".parquet");
}

#[test]
fn bad_tables_are_refused_at_construction() {
    let empty = Table {
        name: "t".into(),
        ..Table::default()
    };
    assert!(Converter::new(&parquet(json!({})), &empty)
        .unwrap_err()
        .contains("has no columns"));
    let mut bad = Table::from_column_spec("t", "a:int").unwrap();
    bad.storage_descriptor
        .as_mut()
        .unwrap()
        .columns
        .as_mut()
        .unwrap()[0]
        .type_ = Some("array<".into());
    let e = Converter::new(&parquet(json!({})), &bad).unwrap_err();
    assert!(e.contains("column 'a' of table t"), "{e}");
}

#[test]
fn a_record_of_concatenated_objects_is_several_rows_and_fails_whole() {
    let table = Table::from_column_spec("t", "a:int").unwrap();
    let conv = Converter::new(&parquet(json!({})), &table).unwrap();
    let recs: Vec<&[u8]> = vec![
        br#"{"a": 1}{"a": 2}"#,
        b"{\"a\": 3}\n{\"a\": \"x\"}\n",
        b"  ",
        b"{\"a\": 4}\n",
    ];
    let out = conv.convert(&recs).unwrap();
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [1, 2], "{:?}", out.failed);
    assert_eq!(out.failed[1].1, "the record holds no JSON object");
    let b = read_parquet(&out.file);
    assert_eq!(b.column(0).as_primitive::<Int32Type>().values(), &[1, 2, 4]);
    assert!(weir_formats::config::enabled(&json!({})));
    assert!(!weir_formats::config::enabled(&json!({"Enabled": false})));
}

#[test]
fn decimals_round_like_hive() {
    let out = convert(
        &parquet(json!({})),
        "d:decimal(6,2)",
        &[
            json!({"d": 1.239}),
            json!({"d": "-2.005"}),
            json!({"d": 12345}),
            json!({"d": 1234.5}),
        ],
    );
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [2], "{:?}", out.failed);
    assert_eq!(out.failed[0].1, "d: cannot convert 12345 to decimal(6,2)");
    let b = read_parquet(&out.file);
    assert_eq!(
        b.column(0).as_primitive::<Decimal128Type>().values(),
        &[124, -201, 123450]
    );
}
