//! Timestamps and dates as Firehose's deserializers read them, into microseconds (and days)
//! since the epoch, UTC.
//!
//! * OpenX JSON SerDe: `yyyy-MM-dd'T'HH:mm:ss[.S…]'Z'` (or an offset), `yyyy-[M]M-[d]d
//!   HH:mm:ss[.S…]` (fractions up to 9 digits), epoch seconds (`1518033528`), epoch milliseconds
//!   (`1518033528123`) and fractional epoch seconds (`1518033528.123`). Whole numbers from
//!   10^11 up are taken as milliseconds — as seconds they would be past the year 5000.
//! * Hive JSON SerDe: `java.sql.Timestamp.valueOf` (`yyyy-[m]m-[d]d hh:mm:ss[.f…]`) unless
//!   TimestampFormats are given: JodaTime patterns tried in order, and the special value
//!   `millis` for epoch milliseconds; the default form is tried last.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

/// Whole epoch numbers from here up are milliseconds.
const MILLIS_FROM: i64 = 100_000_000_000;

/// How a timestamp column's values are read.
#[derive(Debug, Clone)]
pub enum TimestampReader {
    OpenX,
    Hive { formats: Vec<HiveFormat> },
}

#[derive(Debug, Clone)]
pub enum HiveFormat {
    Millis,
    /// A JodaTime pattern translated to chrono's syntax; `offset` when it has a zone field.
    Pattern {
        joda: String,
        chrono: String,
        offset: bool,
        has_time: bool,
    },
}

impl TimestampReader {
    pub fn hive(formats: &[String]) -> Result<Self, String> {
        let formats = formats
            .iter()
            .map(|f| {
                if f == "millis" {
                    return Ok(HiveFormat::Millis);
                }
                let (chrono, offset, has_time) = joda_to_chrono(f)?;
                Ok(HiveFormat::Pattern {
                    joda: f.clone(),
                    chrono,
                    offset,
                    has_time,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TimestampReader::Hive { formats })
    }

    /// Microseconds since the epoch; Err says why the value is not a timestamp.
    pub fn micros(&self, v: &Value) -> Result<i64, String> {
        match self {
            TimestampReader::OpenX => match v {
                Value::Number(n) => epoch_number(n),
                Value::String(s) => {
                    let t = s.trim();
                    if let Ok(n) = t.parse::<serde_json::Number>() {
                        return epoch_number(&n);
                    }
                    iso_or_sql(t).ok_or_else(|| bad(v))
                }
                _ => Err(bad(v)),
            },
            TimestampReader::Hive { formats } => {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(bad(v)),
                };
                for f in formats {
                    match f {
                        HiveFormat::Millis => {
                            if let Ok(ms) = text.parse::<i64>() {
                                return ms.checked_mul(1000).ok_or_else(|| bad(v));
                            }
                        }
                        HiveFormat::Pattern {
                            chrono,
                            offset,
                            has_time,
                            ..
                        } => {
                            if let Some(us) = with_pattern(&text, chrono, *offset, *has_time) {
                                return Ok(us);
                            }
                        }
                    }
                }
                sql_timestamp(&text).ok_or_else(|| bad(v))
            }
        }
    }
}

fn bad(v: &Value) -> String {
    format!("cannot parse {v} as a timestamp")
}

fn epoch_number(n: &serde_json::Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return if i.abs() >= MILLIS_FROM {
            i.checked_mul(1000)
        } else {
            i.checked_mul(1_000_000)
        }
        .ok_or_else(|| format!("timestamp {n} is out of range"));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && (f * 1e6).abs() < 9.2e18 => Ok((f * 1e6).round() as i64),
        _ => Err(format!("timestamp {n} is out of range")),
    }
}

fn micros_of(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// `yyyy-MM-ddTHH:mm:ss[.f]Z`/offset, or the SQL form with a space (optionally ending in Z).
fn iso_or_sql(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    let s2 = s.strip_suffix('Z').unwrap_or(s);
    sql_timestamp(s2).or_else(|| {
        NaiveDateTime::parse_from_str(s2, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(micros_of)
    })
}

/// `java.sql.Timestamp.valueOf`: `yyyy-[m]m-[d]d hh:mm:ss[.f...]`, fraction up to 9 digits.
fn sql_timestamp(s: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(micros_of)
}

fn with_pattern(s: &str, pattern: &str, offset: bool, has_time: bool) -> Option<i64> {
    if offset {
        return DateTime::parse_from_str(s, pattern)
            .ok()
            .map(|t| t.timestamp_micros());
    }
    if has_time {
        return NaiveDateTime::parse_from_str(s, pattern)
            .ok()
            .map(micros_of);
    }
    NaiveDate::parse_from_str(s, pattern)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(micros_of)
}

/// A `date` column's value: `yyyy-[M]M-[d]d` (a timestamp string gives its date), or whole
/// days since the epoch.
pub fn days(v: &Value) -> Result<i32, String> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(|d| i32::try_from(d).ok())
            .ok_or_else(|| format!("cannot parse {v} as a date")),
        Value::String(s) => {
            let t = s.trim();
            let date = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .or_else(|| {
                    iso_or_sql(t)
                        .and_then(|us| DateTime::from_timestamp_micros(us).map(|d| d.date_naive()))
                })
                .ok_or_else(|| format!("cannot parse {v} as a date"))?;
            i32::try_from((date - epoch).num_days())
                .map_err(|_| format!("date {v} is out of range"))
        }
        _ => Err(format!("cannot parse {v} as a date")),
    }
}

/// Translates a JodaTime pattern into chrono's; returns (pattern, has zone, has time fields).
pub fn joda_to_chrono(joda: &str) -> Result<(String, bool, bool), String> {
    let chars: Vec<char> = joda.chars().collect();
    let (mut out, mut offset, mut has_time) = (String::new(), false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a quote.
            let mut j = i + 1;
            if j < chars.len() && chars[j] == '\'' {
                out.push('\'');
                i += 2;
                continue;
            }
            while j < chars.len() && chars[j] != '\'' {
                push_literal(&mut out, chars[j]);
                j += 1;
            }
            if j == chars.len() {
                return Err(format!("unterminated quote in timestamp format '{joda}'"));
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let prev_dot = out.ends_with('.');
        let spec = match (c, n) {
            ('y' | 'Y' | 'u', 2) => "%y",
            ('y' | 'Y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', _) | ('k', _) => {
                has_time = true;
                "%H"
            }
            ('h', _) | ('K', _) => {
                has_time = true;
                "%I"
            }
            ('m', _) => {
                has_time = true;
                "%M"
            }
            ('s', _) => {
                has_time = true;
                "%S"
            }
            ('S', _) => {
                has_time = true;
                if prev_dot {
                    out.pop();
                    "%.f"
                } else {
                    "%f"
                }
            }
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z', 1) => {
                offset = true;
                "%z"
            }
            ('Z', _) => {
                offset = true;
                "%:z"
            }
            _ => {
                return Err(format!(
                    "unsupported field '{}' in timestamp format '{joda}'",
                    chars[i..i + n].iter().collect::<String>()
                ))
            }
        };
        out.push_str(spec);
        i += n;
    }
    Ok((out, offset, has_time))
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: i64 = 1_518_033_528_000_000; // 2018-02-07T19:58:48Z

    #[test]
    fn openx_forms() {
        let r = TimestampReader::OpenX;
        for (v, want) in [
            (json!(1518033528), T),
            (json!(1518033528123i64), T + 123_000),
            (json!(1518033528.123), T + 123_000),
            (json!("1518033528"), T),
            (json!("2018-02-07T19:58:48Z"), T),
            (json!("2018-02-07T19:58:48.392560001Z"), T + 392_560),
            (json!("2018-02-07T20:58:48+01:00"), T),
            (json!("2018-2-7 19:58:48"), T),
            (json!("2018-02-07 19:58:48.14"), T + 140_000),
        ] {
            assert_eq!(r.micros(&v).unwrap(), want, "{v}");
        }
        for v in [
            json!("yesterday"),
            json!(true),
            json!({"a": 1}),
            json!("2018-02-07"),
        ] {
            assert!(r.micros(&v).is_err(), "{v}");
        }
    }

    #[test]
    fn hive_formats() {
        let r = TimestampReader::hive(&[]).unwrap();
        assert_eq!(r.micros(&json!("2018-02-07 19:58:48")).unwrap(), T);
        assert!(r.micros(&json!(1518033528)).is_err());
        let r =
            TimestampReader::hive(&["millis".into(), "dd/MM/yyyy HH:mm:ss.SSS".into()]).unwrap();
        assert_eq!(r.micros(&json!(1518033528123i64)).unwrap(), T + 123_000);
        assert_eq!(
            r.micros(&json!("07/02/2018 19:58:48.500")).unwrap(),
            T + 500_000
        );
        assert_eq!(r.micros(&json!("2018-02-07 19:58:48")).unwrap(), T);
        let r =
            TimestampReader::hive(&["yyyy-MM-dd'T'HH:mm:ssZZ".into(), "yyyyMMdd".into()]).unwrap();
        assert_eq!(r.micros(&json!("2018-02-07T20:58:48+01:00")).unwrap(), T);
        assert_eq!(r.micros(&json!("20180207")).unwrap(), T - 71_928_000_000);
        assert!(TimestampReader::hive(&["yyyy-qq".into()]).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(days(&json!("1970-01-02")).unwrap(), 1);
        assert_eq!(days(&json!("2018-02-07T19:58:48Z")).unwrap(), 17569);
        assert_eq!(days(&json!(17569)).unwrap(), 17569);
        assert!(days(&json!("soon")).is_err());
    }
}
