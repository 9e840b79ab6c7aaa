//! Dynamic partitioning's MetadataExtraction: a jq query run on every JSON record.
//!
//! The query (`MetadataExtractionQuery`, e.g. `{customer_id: .customer_id}`) is compiled once
//! with jaq (jaq-core + jaq-std + jaq-json definitions, so `strftime`, `split`, `ascii_downcase`
//! etc. work as in jq) and run per record. Its first output must be an object; each value becomes
//! the partition key's text the way Firehose renders it in S3 prefixes: strings without quotes,
//! numbers and booleans as their JSON text. A record that is not JSON, a query that errors or
//! yields nothing or a non-object, and null / missing values are errors: Firehose sends such
//! records to the error prefix. Arrays and objects as values are rendered as compact JSON text.

use std::collections::BTreeMap;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;

type Data = data::JustLut<Val>;

/// A compiled MetadataExtractionQuery.
pub struct Extractor {
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extractor")
    }
}

impl Extractor {
    /// MetadataExtractionQuery, e.g. `{customer_id: .customer_id, day: .ts | strftime("%d")}`;
    /// Err = InvalidArgumentException message (wording unconfirmed: AWS reports jq compile errors
    /// for the processor parameter; the jaq error detail is appended).
    pub fn new(query: &str) -> Result<Self, String> {
        let invalid = |detail: String| {
            format!("Invalid MetadataExtractionQuery provided: {query}. {detail}")
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code: query, path: () })
            .map_err(|errs| invalid(format!("Parse error: {:?}", errs.into_iter().map(|(_, e)| e).collect::<Vec<_>>())))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let names: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, es)| es.into_iter().map(|(name, kind)| format!("{name} ({kind:?})")))
                    .collect();
                invalid(format!("Undefined: {}", names.join(", ")))
            })?;
        Ok(Extractor { filter })
    }

    /// Partition keys of one JSON record; Err = the record is not JSON or the query fails / yields a
    /// non-object or null value (Firehose sends such records to the error prefix).
    pub fn extract(&self, record: &[u8]) -> Result<BTreeMap<String, String>, String> {
        let input = jaq_json::read::parse_single(record)
            .map_err(|e| format!("The record is not valid JSON: {e:?}"))?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input)).map(unwrap_valr);
        let first = match outputs.next() {
            None => return Err("The MetadataExtractionQuery produced no output".into()),
            Some(Err(e)) => return Err(format!("The MetadataExtractionQuery failed: {e}")),
            Some(Ok(v)) => v,
        };
        let Val::Obj(map) = first else {
            return Err(format!("The MetadataExtractionQuery must produce an object, not {first}"));
        };
        let mut keys = BTreeMap::new();
        for (k, v) in map.iter() {
            let key = match k {
                Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s).into_owned(),
                other => other.to_string(),
            };
            let value = render(v).ok_or_else(|| format!("The partition key {key} is null"))?;
            keys.insert(key, value);
        }
        Ok(keys)
    }
}

/// A partition key value as Firehose writes it into a prefix; None for null.
fn render(v: &Val) -> Option<String> {
    match v {
        Val::Null => None,
        Val::TStr(s) | Val::BStr(s) => Some(String::from_utf8_lossy(s).into_owned()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn extracts_scalars_as_text() {
        let e = Extractor::new("{customer_id: .customer_id, n: .n, ok: .ok, f: .f}").unwrap();
        let got = e
            .extract(br#"{"customer_id":"c-1","n":42,"ok":true,"f":1.5,"x":0}"#)
            .unwrap();
        assert_eq!(got, keys(&[("customer_id", "c-1"), ("n", "42"), ("ok", "true"), ("f", "1.5")]));
    }

    #[test]
    fn std_functions() {
        let e = Extractor::new(r#"{day: .ts | strftime("%d"), dev: (.device | ascii_downcase)}"#).unwrap();
        let got = e.extract(br#"{"ts":1535365805,"device":"MOBILE"}"#).unwrap();
        assert_eq!(got, keys(&[("day", "27"), ("dev", "mobile")]));
    }

    #[test]
    fn failures() {
        assert!(Extractor::new("{a: .a").is_err());
        assert!(Extractor::new("{a: nosuchfunction}").is_err());
        let e = Extractor::new("{a: .a}").unwrap();
        assert!(e.extract(b"not json").is_err());
        assert!(e.extract(br#"{"b":1}"#).is_err(), "null value");
        assert!(Extractor::new(".a").unwrap().extract(br#"{"a":1}"#).is_err(), "not an object");
        assert!(Extractor::new("error(\"x\")").unwrap().extract(b"{}").is_err());
        assert!(Extractor::new("empty").unwrap().extract(b"{}").is_err());
    }
}
