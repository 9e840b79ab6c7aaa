//! De-aggregation: property tests of the KPL decoder on arbitrary and mutated bytes, and the
//! record-splitting processors.

use md5::{Digest, Md5};
use proptest::prelude::*;
use weir_delivery::deagg::{
    cloudwatch_logs, delimited_records, json_records, kpl, kpl_encode, UserRecord, KPL_MAGIC,
};

fn user_record() -> impl Strategy<Value = UserRecord> {
    (
        "[a-z0-9]{1,8}",
        proptest::option::of("[0-9]{1,39}"),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(pk, ehk, data)| UserRecord {
            partition_key: pk,
            explicit_hash_key: ehk,
            data,
            sub_sequence: 0,
        })
}

/// Wraps arbitrary protobuf bytes as an aggregate with a valid magic and MD5, so the decoder's
/// protobuf reader (not the MD5 check) sees them.
fn with_valid_md5(proto: &[u8]) -> Vec<u8> {
    let mut out = KPL_MAGIC.to_vec();
    out.extend_from_slice(proto);
    out.extend_from_slice(&Md5::digest(proto));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn dlib_kpl_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = kpl(&data);
    }

    #[test]
    fn dlib_kpl_never_panics_on_arbitrary_protobuf(proto in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Some(records) = kpl(&with_valid_md5(&proto)) {
            for (i, r) in records.iter().enumerate() {
                prop_assert_eq!(r.sub_sequence, i as u64);
            }
        }
    }

    #[test]
    fn dlib_kpl_round_trips(records in proptest::collection::vec(user_record(), 0..20)) {
        let expected: Vec<UserRecord> = records
            .iter()
            .enumerate()
            .map(|(i, r)| UserRecord { sub_sequence: i as u64, ..r.clone() })
            .collect();
        prop_assert_eq!(kpl(&kpl_encode(&records)), Some(expected));
    }

    #[test]
    fn dlib_kpl_mutations_never_panic(records in proptest::collection::vec(user_record(), 1..8),
                                      pos in any::<prop::sample::Index>(), byte in any::<u8>(),
                                      cut in any::<prop::sample::Index>()) {
        let agg = kpl_encode(&records);
        let proto = &agg[4..agg.len() - 16];
        let mut mutated = proto.to_vec();
        let i = pos.index(mutated.len().max(1)).min(mutated.len().saturating_sub(1));
        if !mutated.is_empty() { mutated[i] = byte; }
        let _ = kpl(&with_valid_md5(&mutated));
        let truncated = &proto[..cut.index(proto.len() + 1)];
        let _ = kpl(&with_valid_md5(truncated));
    }

    #[test]
    fn dlib_json_records_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = json_records(&data);
    }

    #[test]
    fn dlib_delimited_records_rejoin(parts in proptest::collection::vec("[a-z]{1,6}", 0..10)) {
        let joined = parts.join("\n");
        let split: Vec<String> = delimited_records(joined.as_bytes(), b"\n").into_iter().map(|b| String::from_utf8(b).unwrap()).collect();
        prop_assert_eq!(split, parts);
    }

    #[test]
    fn dlib_cloudwatch_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = cloudwatch_logs(&data, true);
    }
}

#[test]
fn dlib_kpl_known_aggregate() {
    // An aggregate as the KPL writes it: keys table ["pk1","pk2"], ehk table ["170141183460469231731687303715884105728"],
    // records (0, -, "a"), (1, 0, "bc").
    let mut proto = Vec::new();
    for k in ["pk1", "pk2"] {
        proto.extend_from_slice(&[0x0a, k.len() as u8]);
        proto.extend_from_slice(k.as_bytes());
    }
    let ehk = "170141183460469231731687303715884105728";
    proto.extend_from_slice(&[0x12, ehk.len() as u8]);
    proto.extend_from_slice(ehk.as_bytes());
    proto.extend_from_slice(&[0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, b'a']);
    // The second record also carries a tag {key:"t", value:"v"}, which is ignored.
    proto.extend_from_slice(&[
        0x1a, 0x10, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x02, b'b', b'c', 0x22, 0x06, 0x0a, 0x01, b't',
        0x12, 0x01, b'v',
    ]);
    let records = kpl(&with_valid_md5(&proto)).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0],
        UserRecord {
            partition_key: "pk1".into(),
            explicit_hash_key: None,
            data: b"a".to_vec(),
            sub_sequence: 0
        }
    );
    assert_eq!(
        records[1],
        UserRecord {
            partition_key: "pk2".into(),
            explicit_hash_key: Some(ehk.into()),
            data: b"bc".to_vec(),
            sub_sequence: 1
        }
    );
}

#[test]
fn dlib_kpl_missing_required_fields() {
    // Record without data (field 3) and record without partition_key_index (field 1).
    let no_data = [0x0a, 0x01, b'k', 0x1a, 0x02, 0x08, 0x00];
    assert_eq!(kpl(&with_valid_md5(&no_data)), None);
    let no_pk = [0x0a, 0x01, b'k', 0x1a, 0x03, 0x1a, 0x01, b'x'];
    assert_eq!(kpl(&with_valid_md5(&no_pk)), None);
    // A well-formed but empty aggregate has no user records.
    assert_eq!(kpl(&with_valid_md5(&[])), Some(vec![]));
}
