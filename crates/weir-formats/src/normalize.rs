//! One JSON record → one row shaped exactly like the table, or the reason it does not fit.
//!
//! This is where the deserializers' rules live: which JSON key feeds which column
//! (case-insensitive matching, ColumnToJsonKeyMappings, dots → underscores), what a value may be
//! coerced from (numbers and booleans given as strings, anything into a `string` column),
//! timestamps and dates in Firehose's forms. What comes out ([`Out`]) is what arrow-json's
//! decoder takes without guessing: exact field names, timestamps as microseconds, dates as
//! days, binary as hex. A key the table does not name is ignored; a column the record lacks is
//! null. Doing this per record is what lets one bad record fail alone instead of its batch.

use crate::hive::HiveType;
use crate::timestamp::{self, TimestampReader};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::HashMap;

/// A column type with what normalizing needs precomputed.
#[derive(Debug)]
pub enum Shape {
    String,
    Int {
        name: &'static str,
        min: i64,
        max: i64,
    },
    Float32,
    Float64,
    Boolean,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Timestamp,
    Date,
    Binary,
    Array(Box<Shape>),
    Map(Box<Shape>, Box<Shape>),
    Struct(Fields),
}

/// Struct fields (or the table's columns): names as written to the file, and how JSON keys find
/// them.
#[derive(Debug)]
pub struct Fields {
    pub names: Vec<String>,
    pub shapes: Vec<Shape>,
    /// Lookup key (lowercased when matching case-insensitively) → field index.
    index: HashMap<String, usize>,
}

impl Fields {
    /// `keys[i]` is the JSON key that feeds field `i` (already lowercased if case-insensitive).
    pub fn new(names: Vec<String>, shapes: Vec<Shape>, keys: Vec<String>) -> Self {
        let index = keys.into_iter().enumerate().map(|(i, k)| (k, i)).collect();
        Self {
            names,
            shapes,
            index,
        }
    }
}

impl Shape {
    pub fn of(t: &HiveType, case_insensitive: bool) -> Shape {
        match t {
            HiveType::String => Shape::String,
            HiveType::TinyInt => Shape::Int {
                name: "tinyint",
                min: i8::MIN.into(),
                max: i8::MAX.into(),
            },
            HiveType::SmallInt => Shape::Int {
                name: "smallint",
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            HiveType::Int => Shape::Int {
                name: "int",
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            HiveType::BigInt => Shape::Int {
                name: "bigint",
                min: i64::MIN,
                max: i64::MAX,
            },
            HiveType::Float => Shape::Float32,
            HiveType::Double => Shape::Float64,
            HiveType::Boolean => Shape::Boolean,
            HiveType::Decimal { precision, scale } => Shape::Decimal {
                precision: *precision,
                scale: *scale,
            },
            HiveType::Timestamp => Shape::Timestamp,
            HiveType::Date => Shape::Date,
            HiveType::Binary => Shape::Binary,
            HiveType::Array(item) => Shape::Array(Box::new(Shape::of(item, case_insensitive))),
            HiveType::Map(k, v) => Shape::Map(
                Box::new(Shape::of(k, case_insensitive)),
                Box::new(Shape::of(v, case_insensitive)),
            ),
            HiveType::Struct(fields) => {
                let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
                let keys = names
                    .iter()
                    .map(|n| {
                        if case_insensitive {
                            n.to_lowercase()
                        } else {
                            n.clone()
                        }
                    })
                    .collect();
                let shapes = fields
                    .iter()
                    .map(|(_, t)| Shape::of(t, case_insensitive))
                    .collect();
                Shape::Struct(Fields::new(names, shapes, keys))
            }
        }
    }
}

/// A normalized value, serialized into arrow-json's decoder.
#[derive(Debug)]
pub enum Out<'s> {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(String),
    List(Vec<Out<'s>>),
    Map(Vec<(String, Out<'s>)>),
    Struct(&'s [String], Vec<Out<'s>>),
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => s.serialize_unit(),
            Out::Bool(b) => s.serialize_bool(*b),
            Out::I64(i) => s.serialize_i64(*i),
            Out::F64(f) => s.serialize_f64(*f),
            Out::Str(t) => s.serialize_str(t),
            Out::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Out::Map(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Out::Struct(names, values) => {
                let present = values.iter().filter(|v| !matches!(v, Out::Null)).count();
                let mut m = s.serialize_map(Some(present))?;
                for (n, v) in names.iter().zip(values) {
                    if !matches!(v, Out::Null) {
                        m.serialize_entry(n, v)?;
                    }
                }
                m.end()
            }
        }
    }
}

/// How JSON keys are read: the deserializer's key rules and its timestamp reader.
pub struct KeyRules {
    pub case_insensitive: bool,
    pub dots_to_underscores: bool,
    pub timestamps: TimestampReader,
}

impl KeyRules {
    fn lookup(&self, fields: &Fields, key: &str) -> Option<usize> {
        let needs_work = (self.dots_to_underscores && key.contains('.'))
            || (self.case_insensitive && key.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80));
        if !needs_work {
            return fields.index.get(key).copied();
        }
        let mut k = if self.dots_to_underscores {
            key.replace('.', "_")
        } else {
            key.to_string()
        };
        if self.case_insensitive {
            k = k.to_lowercase();
        }
        fields.index.get(&k).copied()
    }

    /// A top-level record (or a struct value) against its fields.
    pub fn object<'s>(
        &self,
        fields: &'s Fields,
        value: Value,
        path: &str,
    ) -> Result<Out<'s>, String> {
        let Value::Object(map) = value else {
            return Err(if path.is_empty() {
                format!("the record is not a JSON object but {}", kind(&value))
            } else {
                format!("{path}: expected a JSON object, found {}", kind(&value))
            });
        };
        let mut out: Vec<Out<'s>> = Vec::with_capacity(fields.names.len());
        out.resize_with(fields.names.len(), || Out::Null);
        for (k, v) in map {
            let Some(i) = self.lookup(fields, &k) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let child = if path.is_empty() {
                fields.names[i].clone()
            } else {
                format!("{path}.{}", fields.names[i])
            };
            out[i] = self.value(&fields.shapes[i], v, &child)?;
        }
        Ok(Out::Struct(&fields.names, out))
    }

    fn value<'s>(&self, shape: &'s Shape, v: Value, path: &str) -> Result<Out<'s>, String> {
        if v.is_null() {
            return Ok(Out::Null);
        }
        let fail = |what: &str, v: &Value| format!("{path}: cannot convert {} to {what}", show(v));
        Ok(match shape {
            Shape::String => match v {
                Value::String(s) => Out::Str(s),
                Value::Bool(b) => Out::Str(b.to_string()),
                Value::Number(n) => Out::Str(n.to_string()),
                // Nested JSON in a string column keeps its text, as OpenX gives it.
                other => Out::Str(other.to_string()),
            },
            Shape::Int { name, min, max } => {
                let n = match &v {
                    Value::Number(n) => n.as_i64().or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                            .map(|f| f as i64)
                    }),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if n >= *min && n <= *max => Out::I64(n),
                    _ => return Err(fail(name, &v)),
                }
            }
            Shape::Float32 | Shape::Float64 => {
                let what = if matches!(shape, Shape::Float32) {
                    "float"
                } else {
                    "double"
                };
                let f = match &v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                    _ => None,
                };
                match f {
                    Some(f) => Out::F64(f),
                    None => return Err(fail(what, &v)),
                }
            }
            Shape::Boolean => match &v {
                Value::Bool(b) => Out::Bool(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Out::Bool(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Out::Bool(false),
                _ => return Err(fail("boolean", &v)),
            },
            Shape::Decimal { precision, scale } => {
                let text = match &v {
                    Value::Number(n) => match n.as_f64() {
                        Some(f) if n.is_f64() => format!("{f}"),
                        _ => n.to_string(),
                    },
                    Value::String(s) => s.trim().to_string(),
                    _ => return Err(fail("decimal", &v)),
                };
                let what = format!("decimal({precision},{scale})");
                match round_decimal(&text, *precision, *scale) {
                    Some(d) => Out::Str(d),
                    None => return Err(fail(&what, &v)),
                }
            }
            Shape::Timestamp => Out::I64(
                self.timestamps
                    .micros(&v)
                    .map_err(|e| format!("{path}: {e}"))?,
            ),
            Shape::Date => Out::I64(
                timestamp::days(&v)
                    .map_err(|e| format!("{path}: {e}"))?
                    .into(),
            ),
            Shape::Binary => match &v {
                Value::String(s) => {
                    let bytes = base64_simd::STANDARD
                        .decode_to_vec(s.trim())
                        .map_err(|_| format!("{path}: binary values must be base64 strings"))?;
                    Out::Str(hex(&bytes))
                }
                _ => return Err(fail("binary", &v)),
            },
            Shape::Array(item) => match v {
                Value::Array(items) => Out::List(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| self.value(item, x, &format!("{path}[{i}]")))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(fail("array", &other)),
            },
            Shape::Map(key, val) => match v {
                Value::Object(m) => {
                    let mut entries = Vec::with_capacity(m.len());
                    for (k, x) in m {
                        // Keys are JSON strings; a non-string key type must parse from them.
                        if !matches!(**key, Shape::String) {
                            self.value(key, Value::String(k.clone()), &format!("{path} key"))?;
                        }
                        let x = self.value(val, x, &format!("{path}[{k}]"))?;
                        entries.push((k, x));
                    }
                    Out::Map(entries)
                }
                other => return Err(fail("map", &other)),
            },
            Shape::Struct(fields) => self.object(fields, v, path)?,
        })
    }
}

/// Decimal text rounded half-up to `scale` digits (as Hive's HiveDecimal does), or None when it
/// is not a plain decimal number or its integer part needs more than `precision - scale`
/// digits.
fn round_decimal(text: &str, precision: u8, scale: i8) -> Option<String> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = scale.max(0) as usize;
    // All digits, scaled: int ++ frac padded or cut to `scale`, then the half-up carry.
    let mut digits: Vec<u8> = int.trim_start_matches('0').bytes().collect();
    let kept: Vec<u8> = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(scale)
        .collect();
    digits.extend_from_slice(&kept);
    if frac.as_bytes().get(scale).is_some_and(|&d| d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let int_len = digits.len().saturating_sub(scale);
    if int_len > usize::from(precision).saturating_sub(scale) {
        return None;
    }
    while digits.len() < scale + 1 {
        digits.insert(0, b'0');
    }
    let split = digits.len() - scale;
    let mut out = String::with_capacity(digits.len() + 2);
    if neg && digits.iter().any(|&d| d != b'0') {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[..split]).ok()?);
    if scale > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&digits[split..]).ok()?);
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut short.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 64 {
        let cut: String = s.chars().take(61).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> KeyRules {
        KeyRules {
            case_insensitive: true,
            dots_to_underscores: true,
            timestamps: TimestampReader::OpenX,
        }
    }

    #[test]
    fn keys_match_case_insensitively_and_dots_become_underscores() {
        let t = HiveType::parse("struct<user_id:bigint,a_b:string,inner:struct<x:int>>").unwrap();
        let Shape::Struct(fields) = Shape::of(&t, true) else {
            panic!()
        };
        let out = rules()
            .object(
                &fields,
                json!({"User_ID": "7", "a.b": 1.5, "INNER": {"X": 3, "y": 4}, "other": 1}),
                "",
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"user_id": 7, "a_b": "1.5", "inner": {"x": 3}})
        );
    }

    #[test]
    fn decimals_round_half_up_and_must_fit() {
        for (text, p, sc, want) in [
            ("12.345", 10, 2, Some("12.35")),
            ("12.344", 10, 2, Some("12.34")),
            ("-0.005", 10, 2, Some("-0.01")),
            ("-0.004", 10, 2, Some("0.00")),
            ("99.995", 4, 2, None),
            ("99.994", 4, 2, Some("99.99")),
            ("5", 4, 2, Some("5.00")),
            (".5", 3, 0, Some("1")),
            ("007.1", 3, 1, Some("7.1")),
            ("1e5", 10, 2, None),
            ("", 10, 2, None),
            ("1.2.3", 10, 2, None),
        ] {
            assert_eq!(round_decimal(text, p, sc).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn misfits_name_the_column() {
        let t = HiveType::parse("struct<n:tinyint,b:boolean,l:array<int>>").unwrap();
        let Shape::Struct(fields) = Shape::of(&t, true) else {
            panic!()
        };
        for (rec, want) in [
            (json!({"n": 300}), "n: cannot convert 300 to tinyint"),
            (json!({"b": "yes"}), "b: cannot convert \"yes\" to boolean"),
            (json!({"l": [1, "x"]}), "l[1]: cannot convert \"x\" to int"),
            (json!([1]), "the record is not a JSON object but an array"),
        ] {
            let e = rules().object(&fields, rec, "").unwrap_err();
            assert_eq!(e, want);
        }
    }
}
