//! Property tests for the two decoders of untrusted text: Hive type strings (from Glue
//! CreateTable/UpdateTable) and JSON records (from producers). Neither may panic; a parsed type
//! prints back to a string that parses to the same type; whatever records come in, each is
//! either written or reported failed, exactly once.

use proptest::prelude::*;
use serde_json::json;
use weir_formats::{Converter, HiveType, Table};

fn hive_type() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("string".to_string()),
        Just("int".to_string()),
        Just("bigint".to_string()),
        Just("tinyint".to_string()),
        Just("double".to_string()),
        Just("boolean".to_string()),
        Just("timestamp".to_string()),
        Just("date".to_string()),
        Just("binary".to_string()),
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_map(|(p, s)| format!("decimal({p},{s})")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("array<{t}>")),
            inner.clone().prop_map(|t| format!("map<string,{t}>")),
            prop::collection::vec(inner, 1..4).prop_map(|ts| {
                let fields: Vec<String> = ts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("f{i}:{t}"))
                    .collect();
                format!("struct<{}>", fields.join(","))
            }),
        ]
    })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 :.TZ-]{0,24}".prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-dA-D._]{1,3}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_text_parses_or_errs(s in "\\PC{0,64}") {
        let _ = HiveType::parse(&s);
    }

    #[test]
    fn printed_types_parse_back(t in hive_type()) {
        let parsed = HiveType::parse(&t).unwrap();
        prop_assert_eq!(HiveType::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn every_record_is_written_or_failed(
        t in hive_type(),
        records in prop::collection::vec(prop_oneof![
            json_value().prop_map(|v| serde_json::to_vec(&json!({"a": v, "B": v})).unwrap()),
            prop::collection::vec(any::<u8>(), 0..40),
        ], 0..12),
    ) {
        let table = Table::from_column_spec("t", &format!("a:{t},b:{t}")).unwrap();
        let conv = Converter::new(
            &json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}),
            &table,
        ).unwrap();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let out = conv.convert(&refs).unwrap();
        let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
        let mut dedup = failed.clone();
        dedup.dedup();
        prop_assert_eq!(&dedup, &failed, "a record is reported at most once");
        // Every record that did not fail is in the file, one row per JSON object in it.
        let expected: usize = records
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed.contains(i))
            .map(|(_, r)| serde_json::Deserializer::from_slice(r).into_iter::<serde_json::Value>().count())
            .sum();
        prop_assert_eq!(out.rows, expected);
        prop_assert!(failed.iter().all(|&i| i < records.len()));
    }
}
