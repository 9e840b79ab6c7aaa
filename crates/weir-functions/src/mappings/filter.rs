//! Lambda event filtering (FilterCriteria): a record is processed when any pattern matches it.
//!
//! A Kinesis record is matched as `{"partitionKey", "sequenceNumber", "approximateArrivalTimestamp",
//! "kinesisSchemaVersion", "data"}` where `data` is the decoded payload parsed as JSON when it is
//! JSON (a pattern on `data` never matches a non-JSON payload). Pattern syntax is EventBridge's:
//! a leaf is a list of alternatives — literals (`"x"`, `1`, `null`) or matchers `prefix`,
//! `suffix`, `equals-ignore-case`, `anything-but`, `numeric`, `exists`, `wildcard` — objects
//! nest, and `"$or": [pattern, …]` matches when any branch does. An event value that is an array
//! matches when any element does.

use serde_json::{Map, Value};

/// A compiled set of patterns.
#[derive(Debug, Clone)]
pub struct Filters(Vec<Value>);

impl Filters {
    /// Parses the patterns; Err names the first invalid one (Lambda's InvalidParameterValueException).
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        for p in patterns {
            let v: Value = serde_json::from_str(p)
                .map_err(|_| format!("Invalid filter pattern definition. {p}"))?;
            if !v.is_object() {
                return Err(format!("Invalid filter pattern definition. {p}"));
            }
            validate(&v).map_err(|e| format!("Invalid filter pattern definition. {e}"))?;
            out.push(v);
        }
        Ok(Filters(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the record passes (no patterns: everything passes).
    pub fn matches(&self, event: &Value) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| matches_object(p, event))
    }
}

/// The value a Kinesis record is matched as.
pub fn kinesis_view(partition_key: &str, sequence: &str, arrival_secs: f64, data: &[u8]) -> Value {
    let mut m = Map::new();
    m.insert("kinesisSchemaVersion".into(), "1.0".into());
    m.insert("partitionKey".into(), partition_key.into());
    m.insert("sequenceNumber".into(), sequence.into());
    m.insert("approximateArrivalTimestamp".into(), arrival_secs.into());
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        m.insert("data".into(), v);
    }
    Value::Object(m)
}

fn validate(p: &Value) -> Result<(), String> {
    let Value::Object(m) = p else {
        return Err(format!("{p} is not an object"));
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("$or", Value::Array(branches)) => branches.iter().try_for_each(validate)?,
            (_, Value::Object(_)) => validate(v)?,
            (_, Value::Array(alts)) => {
                for a in alts {
                    if let Value::Object(op) = a {
                        let known = [
                            "prefix",
                            "suffix",
                            "equals-ignore-case",
                            "anything-but",
                            "numeric",
                            "exists",
                            "wildcard",
                        ];
                        if op.len() != 1 || !known.contains(&op.keys().next().unwrap().as_str()) {
                            return Err(format!("unknown matcher {a}"));
                        }
                    }
                }
            }
            _ => return Err(format!("the value of {k} must be an array or an object")),
        }
    }
    Ok(())
}

fn matches_object(pattern: &Value, event: &Value) -> bool {
    let Value::Object(p) = pattern else {
        return false;
    };
    p.iter().all(|(k, v)| {
        if k == "$or" {
            return v
                .as_array()
                .is_some_and(|bs| bs.iter().any(|b| matches_object(b, event)));
        }
        let field = event.get(k);
        match v {
            Value::Object(_) => field.is_some_and(|f| matches_object(v, f)),
            Value::Array(alts) => alts.iter().any(|a| matches_leaf(a, field)),
            _ => false,
        }
    })
}

/// One alternative against a field that may be missing or an array.
fn matches_leaf(alt: &Value, field: Option<&Value>) -> bool {
    if let Some(Value::Object(op)) = Some(alt) {
        if let Some(Value::Bool(want)) = op.get("exists") {
            return field.is_some() == *want;
        }
        if let Some(spec) = op.get("anything-but") {
            // anything-but matches a present value that is none of the excluded.
            return match field {
                Some(Value::Array(items)) => items.iter().all(|v| anything_but(spec, v)),
                Some(v) => anything_but(spec, v),
                None => false,
            };
        }
    }
    match field {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|v| matches_value(alt, v)),
        Some(v) => matches_value(alt, v),
    }
}

fn matches_value(alt: &Value, v: &Value) -> bool {
    match alt {
        Value::Object(op) => {
            let Some((name, arg)) = op.iter().next() else {
                return false;
            };
            match (name.as_str(), arg, v) {
                ("prefix", Value::String(p), Value::String(s)) => s.starts_with(p.as_str()),
                ("prefix", Value::Object(o), Value::String(s)) => o
                    .get("equals-ignore-case")
                    .and_then(Value::as_str)
                    .is_some_and(|p| s.to_lowercase().starts_with(&p.to_lowercase())),
                ("suffix", Value::String(p), Value::String(s)) => s.ends_with(p.as_str()),
                ("suffix", Value::Object(o), Value::String(s)) => o
                    .get("equals-ignore-case")
                    .and_then(Value::as_str)
                    .is_some_and(|p| s.to_lowercase().ends_with(&p.to_lowercase())),
                ("equals-ignore-case", Value::String(p), Value::String(s)) => {
                    s.to_lowercase() == p.to_lowercase()
                }
                ("wildcard", Value::String(p), Value::String(s)) => wildcard(p, s),
                ("numeric", Value::Array(conds), Value::Number(n)) => {
                    n.as_f64().is_some_and(|x| numeric(conds, x))
                }
                _ => false,
            }
        }
        literal => numbers_equal(literal, v) || literal == v,
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

fn anything_but(spec: &Value, v: &Value) -> bool {
    match spec {
        Value::Array(excluded) => !excluded.iter().any(|e| e == v || numbers_equal(e, v)),
        Value::Object(op) => {
            if let (Some(Value::String(p)), Value::String(s)) = (op.get("prefix"), v) {
                return !s.starts_with(p.as_str());
            }
            if let (Some(Value::String(p)), Value::String(s)) = (op.get("suffix"), v) {
                return !s.ends_with(p.as_str());
            }
            if let (Some(Value::String(p)), Value::String(s)) = (op.get("equals-ignore-case"), v) {
                return s.to_lowercase() != p.to_lowercase();
            }
            false
        }
        single => single != v && !numbers_equal(single, v),
    }
}

fn numeric(conds: &[Value], x: f64) -> bool {
    conds.chunks(2).all(|c| match c {
        [Value::String(op), n] => n.as_f64().is_some_and(|n| match op.as_str() {
            "<" => x < n,
            "<=" => x <= n,
            ">" => x > n,
            ">=" => x >= n,
            "=" => x == n,
            _ => false,
        }),
        _ => false,
    })
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || !s[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn passes(pattern: Value, data: Value) -> bool {
        let f = Filters::new(&[pattern.to_string()]).unwrap();
        let view = kinesis_view("pk", "1", 1.0, data.to_string().as_bytes());
        f.matches(&view)
    }

    #[test]
    fn lambda_filter_patterns() {
        assert!(passes(
            json!({"data": {"type": ["order"]}}),
            json!({"type": "order"})
        ));
        assert!(!passes(
            json!({"data": {"type": ["order"]}}),
            json!({"type": "refund"})
        ));
        assert!(passes(json!({"partitionKey": ["pk"]}), json!({})));
        assert!(passes(
            json!({"data": {"n": [{"numeric": [">", 0, "<=", 5]}]}}),
            json!({"n": 5})
        ));
        assert!(!passes(
            json!({"data": {"n": [{"numeric": [">", 0, "<=", 5]}]}}),
            json!({"n": 6})
        ));
        assert!(passes(
            json!({"data": {"s": [{"prefix": "ab"}]}}),
            json!({"s": "abc"})
        ));
        assert!(passes(
            json!({"data": {"s": [{"suffix": ".png"}]}}),
            json!({"s": "a.png"})
        ));
        assert!(passes(
            json!({"data": {"s": [{"anything-but": ["x"]}]}}),
            json!({"s": "y"})
        ));
        assert!(!passes(
            json!({"data": {"s": [{"anything-but": ["x"]}]}}),
            json!({"s": "x"})
        ));
        assert!(passes(
            json!({"data": {"s": [{"exists": false}]}}),
            json!({})
        ));
        assert!(!passes(
            json!({"data": {"s": [{"exists": true}]}}),
            json!({})
        ));
        assert!(passes(
            json!({"data": {"tags": ["b"]}}),
            json!({"tags": ["a", "b"]})
        ));
        assert!(passes(
            json!({"data": {"s": [{"equals-ignore-case": "ABC"}]}}),
            json!({"s": "abc"})
        ));
        assert!(passes(
            json!({"$or": [{"data": {"a": [1]}}, {"data": {"b": [2]}}]}),
            json!({"b": 2})
        ));
        assert!(passes(
            json!({"data": {"f": [{"wildcard": "img*.png"}]}}),
            json!({"f": "img-1.png"})
        ));
        assert!(passes(json!({"data": {"v": [null]}}), json!({"v": null})));
    }

    #[test]
    fn a_pattern_on_data_never_matches_a_payload_that_is_not_json() {
        let f = Filters::new(&[json!({"data": {"a": [1]}}).to_string()]).unwrap();
        assert!(!f.matches(&kinesis_view("pk", "1", 1.0, b"\xff not json")));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        assert!(Filters::new(&["not json".into()]).is_err());
        assert!(Filters::new(&[json!({"a": "b"}).to_string()]).is_err());
        assert!(Filters::new(&[json!({"a": [{"nope": 1}]}).to_string()]).is_err());
    }
}
