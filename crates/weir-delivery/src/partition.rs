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

/// jq 1.6's `MAX_PARSING_DEPTH` (Firehose's jq): deeper records fail to parse. The check also
/// keeps the recursive JSON reader from exhausting the stack on hostile input.
pub const MAX_JSON_DEPTH: usize = 256;

/// Deepest array/object nesting of a JSON text (strings skipped), stopping early past `limit`.
fn nesting_depth(json: &[u8], limit: usize) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                if max > limit {
                    return max;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

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
        let invalid =
            |detail: String| format!("Invalid MetadataExtractionQuery provided: {query}. {detail}");
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(
                &arena,
                File {
                    code: query,
                    path: (),
                },
            )
            .map_err(|errs| {
                invalid(format!(
                    "Parse error: {:?}",
                    errs.into_iter().map(|(_, e)| e).collect::<Vec<_>>()
                ))
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let names: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, es)| {
                        es.into_iter()
                            .map(|(name, kind)| format!("{name} ({kind:?})"))
                    })
                    .collect();
                invalid(format!("Undefined: {}", names.join(", ")))
            })?;
        Ok(Extractor { filter })
    }

    /// Partition keys of one JSON record; Err = the record is not JSON or the query fails / yields a
    /// non-object or null value (Firehose sends such records to the error prefix).
    pub fn extract(&self, record: &[u8]) -> Result<BTreeMap<String, String>, String> {
        if nesting_depth(record, MAX_JSON_DEPTH) > MAX_JSON_DEPTH {
            return Err(format!(
                "The record exceeds the depth limit of {MAX_JSON_DEPTH} for parsing"
            ));
        }
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
            return Err(format!(
                "The MetadataExtractionQuery must produce an object, not {first}"
            ));
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
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn extracts_scalars_as_text() {
        let e = Extractor::new("{customer_id: .customer_id, n: .n, ok: .ok, f: .f}").unwrap();
        let got = e
            .extract(br#"{"customer_id":"c-1","n":42,"ok":true,"f":1.5,"x":0}"#)
            .unwrap();
        assert_eq!(
            got,
            keys(&[
                ("customer_id", "c-1"),
                ("n", "42"),
                ("ok", "true"),
                ("f", "1.5")
            ])
        );
    }

    #[test]
    fn std_functions() {
        let e = Extractor::new(r#"{day: .ts | strftime("%d"), dev: (.device | ascii_downcase)}"#)
            .unwrap();
        let got = e
            .extract(br#"{"ts":1535365805,"device":"MOBILE"}"#)
            .unwrap();
        assert_eq!(got, keys(&[("day", "27"), ("dev", "mobile")]));
    }

    #[test]
    fn deep_records_are_refused_not_a_crash() {
        let e = Extractor::new("{a: .a}").unwrap();
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert!(e.extract(deep.as_bytes()).unwrap_err().contains("depth"));
        let ok = format!("{{\"a\": {}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(e.extract(ok.as_bytes()).is_ok());
        assert_eq!(nesting_depth(br#"{"s":"[[[[\"[["}"#, 10), 1);
    }

    #[test]
    fn failures() {
        assert!(Extractor::new("{a: .a").is_err());
        assert!(Extractor::new("{a: nosuchfunction}").is_err());
        let e = Extractor::new("{a: .a}").unwrap();
        assert!(e.extract(b"not json").is_err());
        assert!(e.extract(br#"{"b":1}"#).is_err(), "null value");
        assert!(
            Extractor::new(".a")
                .unwrap()
                .extract(br#"{"a":1}"#)
                .is_err(),
            "not an object"
        );
        assert!(Extractor::new("error(\"x\")")
            .unwrap()
            .extract(b"{}")
            .is_err());
        assert!(Extractor::new("empty").unwrap().extract(b"{}").is_err());
    }
}
