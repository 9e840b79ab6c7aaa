//! The `MetadataStore` contract, run against redb and the in-memory store.

use weir_storage::metadata::{MemoryMetadata, RedbMetadata};
use weir_storage::{Error, Expect, MetaOp, MetadataStore};

fn put(table: &str, key: &str, value: &str, expect: Expect) -> MetaOp {
    MetaOp::Put {
        table: table.into(),
        key: key.into(),
        value: value.as_bytes().to_vec(),
        expect,
    }
}

fn del(table: &str, key: &str, expect: Expect) -> MetaOp {
    MetaOp::Delete {
        table: table.into(),
        key: key.into(),
        expect,
    }
}

fn value(m: &dyn MetadataStore, table: &str, key: &str) -> Option<(u64, String)> {
    m.get(table, key)
        .unwrap()
        .map(|v| (v.version, String::from_utf8(v.value).unwrap()))
}

fn compare_and_set(m: &dyn MetadataStore) {
    m.transact(vec![put("streams", "a", "1", Expect::Absent)])
        .unwrap();
    let (v1, s) = value(m, "streams", "a").unwrap();
    assert_eq!(s, "1");
    assert!(matches!(
        m.transact(vec![put("streams", "a", "x", Expect::Absent)]),
        Err(Error::Conflict { .. })
    ));
    m.transact(vec![put("streams", "a", "2", Expect::Version(v1))])
        .unwrap();
    let (v2, s) = value(m, "streams", "a").unwrap();
    assert!(v2 > v1);
    assert_eq!(s, "2");
    let stale = m.transact(vec![put("streams", "a", "3", Expect::Version(v1))]);
    assert!(
        matches!(stale, Err(Error::Conflict { ref table, ref key }) if table == "streams" && key == "a")
    );
    assert!(stale.unwrap_err().is_retryable());
    m.transact(vec![put("streams", "a", "4", Expect::Any)])
        .unwrap();
    let (v4, _) = value(m, "streams", "a").unwrap();
    assert!(matches!(
        m.transact(vec![del("streams", "a", Expect::Version(v2))]),
        Err(Error::Conflict { .. })
    ));
    m.transact(vec![del("streams", "a", Expect::Version(v4))])
        .unwrap();
    assert_eq!(value(m, "streams", "a"), None);
    // A key written again never reuses an old version.
    m.transact(vec![put("streams", "a", "5", Expect::Absent)])
        .unwrap();
    let (v5, _) = value(m, "streams", "a").unwrap();
    assert!(v5 > v4);
    assert!(matches!(
        m.transact(vec![del("streams", "nope", Expect::Version(1))]),
        Err(Error::Conflict { .. })
    ));
    m.transact(vec![del("streams", "nope", Expect::Any)])
        .unwrap();
}

fn atomicity(m: &dyn MetadataStore) {
    m.transact(vec![
        put("t", "a", "a0", Expect::Absent),
        put("t", "b", "b0", Expect::Absent),
    ])
    .unwrap();
    let before = m.list("t").unwrap();
    let failed = m.transact(vec![
        put("t", "a", "a1", Expect::Any),
        del("t", "b", Expect::Any),
        put("t", "c", "c1", Expect::Absent),
        put("t", "b", "b1", Expect::Version(999_999)),
    ]);
    assert!(matches!(failed, Err(Error::Conflict { ref key, .. }) if key == "b"));
    assert_eq!(m.list("t").unwrap(), before);
    assert!(matches!(
        m.transact(vec![put("bad\0table", "k", "v", Expect::Any)]),
        Err(Error::Invalid(_))
    ));
}

fn list_order(m: &dyn MetadataStore) {
    let keys = ["b", "a", "a\u{1}", "ab", "B", "z/1", "", "é"];
    let ops = keys
        .iter()
        .map(|k| put("tbl", k, k, Expect::Absent))
        .collect();
    m.transact(ops).unwrap();
    m.transact(vec![
        put("tbl2", "a", "other table", Expect::Absent),
        put("tb", "x", "prefix table", Expect::Absent),
    ])
    .unwrap();
    let listed: Vec<String> = m.list("tbl").unwrap().into_iter().map(|(k, _)| k).collect();
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    for (k, v) in m.list("tbl").unwrap() {
        assert_eq!(v.value, k.as_bytes());
    }
    assert_eq!(m.list("tb").unwrap().len(), 1);
    assert!(m.list("missing").unwrap().is_empty());
}

macro_rules! both {
    ($($name:ident),*) => {
        mod memory { $( #[test] fn $name() { super::$name(&weir_storage::metadata::MemoryMetadata::new()) } )* }
        mod redb { $( #[test] fn $name() {
            let dir = tempfile::tempdir().unwrap();
            super::$name(&weir_storage::metadata::RedbMetadata::open(&dir.path().join("meta.redb")).unwrap())
        } )* }
    };
}

both!(compare_and_set, atomicity, list_order);

#[test]
fn redb_is_durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("meta.redb");
    let v = {
        let m = RedbMetadata::open(&path).unwrap();
        m.transact(vec![
            put("streams", "s1", "one", Expect::Absent),
            put("tags", "s1/x", "y", Expect::Absent),
        ])
        .unwrap();
        m.get("streams", "s1").unwrap().unwrap().version
    };
    let m = RedbMetadata::open(&path).unwrap();
    assert_eq!(value(&m, "streams", "s1"), Some((v, "one".into())));
    assert_eq!(m.list("tags").unwrap().len(), 1);
    m.transact(vec![put("streams", "s2", "two", Expect::Absent)])
        .unwrap();
    assert!(
        m.get("streams", "s2").unwrap().unwrap().version > v,
        "the version counter survives reopen"
    );
}

#[test]
fn memory_metadata_is_a_metadata_store() {
    let m: Box<dyn MetadataStore> = Box::new(MemoryMetadata::default());
    assert!(m.get("a", "b").unwrap().is_none());
}
