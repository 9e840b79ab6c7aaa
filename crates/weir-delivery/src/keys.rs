//! Firehose S3 object keys: `Prefix` / `ErrorOutputPrefix` expressions and object names.
//!
//! A key is `<evaluated prefix><object name>`. Prefixes hold `!{namespace:value}` expressions:
//! `timestamp` (a Java `DateTimeFormatter` pattern, see [`datetime`]), `firehose:random-string`,
//! `firehose:error-output-type`, `partitionKeyFromQuery:k` and `partitionKeyFromLambda:k`.
//! Every `timestamp` expression of one prefix evaluates the same instant: the approximate arrival
//! time of the oldest record in the object, in `CustomTimeZone` (UTC by default), which also
//! dates the object name.
//!
//! Rules (AWS Firehose developer guide, "Understand custom prefixes for Amazon S3 objects"):
//! a `Prefix` without a `timestamp` expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended —
//! except with dynamic partitioning, whose prefixes are used as written; with no `Prefix` the
//! prefix is `yyyy/MM/dd/HH/`. With no `ErrorOutputPrefix` (allowed only when `Prefix` has no
//! expressions) failed records go to `<Prefix><error-output-type>/yyyy/MM/dd/HH/`; a configured
//! `ErrorOutputPrefix` is used as written (no timestamp appended). Prefixes are
//! plain concatenation: users end them with `/` to get folders. Evaluated prefixes longer than
//! 512 characters are an error.
//!
//! Dynamic partitioning is recognised at evaluation time by the prefix naming partition keys:
//! [`validate`] only admits `partitionKeyFrom*` expressions when dynamic partitioning is enabled
//! and requires at least one in that case, so the two are equivalent for validated prefixes.

pub mod datetime;

use std::collections::BTreeMap;

use datetime::Pattern;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Longest evaluated prefix Firehose writes ("Neither Prefix nor ErrorOutputPrefix can be greater
/// than 512 characters after they're evaluated").
pub const MAX_EVALUATED_PREFIX: usize = 512;
/// Length of `!{firehose:random-string}`.
pub const RANDOM_STRING_LEN: usize = 11;
/// The prefix when none is configured, and what is appended to prefixes without a timestamp.
pub const DEFAULT_TIMESTAMP_PATTERN: &str = "yyyy/MM/dd/HH/";

/// What an object key is evaluated for.
pub struct KeyContext<'a> {
    /// DeliveryStreamName.
    pub delivery_stream: &'a str,
    /// DeliveryStreamDescription.VersionId as a number (starts at 1).
    pub version: u64,
    /// Approximate arrival time of the OLDEST record in the object, epoch ms.
    pub arrival_millis: i64,
    /// ExtendedS3 CustomTimeZone (IANA name); None = UTC.
    pub time_zone: Option<&'a str>,
    /// partitionKeyFromQuery values.
    pub query_keys: &'a BTreeMap<String, String>,
    /// partitionKeyFromLambda values.
    pub lambda_keys: &'a BTreeMap<String, String>,
}

/// One parsed piece of a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp(Pattern),
    RandomString,
    ErrorOutputType,
    QueryKey(String),
    LambdaKey(String),
}

impl Part {
    fn is_expression(&self) -> bool {
        !matches!(self, Part::Literal(_))
    }
}

/// The frame AWS puts around every prefix rule it reports (AWS's own typo "Ths" included);
/// confirmed by the InvalidArgumentException quoted in terraform-provider-aws PR #13416 and
/// serverless issue #6015.
fn constraint(rule: &str) -> String {
    format!("Ths supplied prefix(es) do not satisfy the following constraint: {rule}")
}

/// Parses a prefix into literal text and expressions. Err = the rule it breaks.
fn parse(prefix: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        if start > 0 {
            parts.push(Part::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            // Unconfirmed wording (the rule is "The sequence !{ can only appear in
            // !{namespace:value} expressions").
            constraint("The sequence !{ can only appear in !{namespace:value} expressions")
        })?;
        let expr = &after[..end];
        let (namespace, value) = expr.split_once(':').ok_or_else(|| {
            constraint("The sequence !{ can only appear in !{namespace:value} expressions")
        })?;
        parts.push(match namespace {
            "timestamp" => Part::Timestamp(Pattern::parse(value).map_err(|e| {
                // Unconfirmed wording.
                constraint(&format!(
                    "!{{timestamp:{value}}} must be a valid Java DateTimeFormatter pattern ({e})"
                ))
            })?),
            "firehose" => match value {
                "random-string" => Part::RandomString,
                "error-output-type" => Part::ErrorOutputType,
                // Unconfirmed wording.
                _ => {
                    return Err(constraint(&format!(
                        "The firehose namespace supports only error-output-type and random-string, not {value}"
                    )))
                }
            },
            "partitionKeyFromQuery" | "partitionKeyFromLambda" => {
                if value.is_empty() {
                    // Unconfirmed wording.
                    return Err(constraint(&format!("{namespace} requires a partition key name")));
                }
                if namespace == "partitionKeyFromQuery" {
                    Part::QueryKey(value.to_string())
                } else {
                    Part::LambdaKey(value.to_string())
                }
            }
            // Unconfirmed wording.
            _ => {
                return Err(constraint(&format!(
                    "Unsupported namespace {namespace}: use firehose, timestamp, partitionKeyFromQuery or partitionKeyFromLambda"
                )))
            }
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(parts)
}

fn has(parts: &[Part], f: impl Fn(&Part) -> bool) -> bool {
    parts.iter().any(f)
}

/// AWS's validation of Prefix / ErrorOutputPrefix (and CustomTimeZone) at Create/UpdateDestination.
/// Err = the InvalidArgumentException message, worded as AWS words it.
///
/// Sources of the texts: "ErrorOutputPrefix cannot be null or empty when Prefix contains
/// expressions" is AWS's message as quoted verbatim in terraform-provider-aws PR #13416 and
/// serverless issue #6015 (with the frame of [`constraint`]). The other rules are the developer
/// guide's ("If you specify an expression for ErrorOutputPrefix, you must include at least one
/// instance of !{firehose:error-output-type}", "Prefix can't contain !{firehose:error-output-type}",
/// "You can't use partitionKeyFromLambda and partitionKeyFromQuery namespaces when creating
/// ErrorOutputPrefix expressions", dynamic partitioning requires partition-key expressions in the
/// prefix and an ErrorOutputPrefix); their exact wording is UNCONFIRMED and written in the same
/// frame.
pub fn validate(
    prefix: Option<&str>,
    error_output_prefix: Option<&str>,
    dynamic_partitioning: bool,
    time_zone: Option<&str>,
) -> Result<(), String> {
    let prefix = prefix.filter(|p| !p.is_empty());
    let error_output_prefix = error_output_prefix.filter(|p| !p.is_empty());
    let parts = match prefix {
        Some(p) => parse(p)?,
        None => Vec::new(),
    };
    let error_parts = match error_output_prefix {
        Some(p) => Some(parse(p)?),
        None => None,
    };
    if has(&parts, |p| *p == Part::ErrorOutputType) {
        // Unconfirmed wording.
        return Err(constraint(
            "Prefix cannot contain !{firehose:error-output-type}",
        ));
    }
    let partition_keys = has(&parts, |p| {
        matches!(p, Part::QueryKey(_) | Part::LambdaKey(_))
    });
    if partition_keys && !dynamic_partitioning {
        // Unconfirmed wording.
        return Err(constraint(
            "Prefix cannot contain partitionKeyFromQuery or partitionKeyFromLambda namespaces when dynamic partitioning is disabled",
        ));
    }
    if dynamic_partitioning && !partition_keys {
        // Unconfirmed wording.
        return Err(constraint(
            "Prefix must contain at least one partitionKeyFromQuery or partitionKeyFromLambda namespace when dynamic partitioning is enabled",
        ));
    }
    match &error_parts {
        None if has(&parts, Part::is_expression) => {
            return Err(constraint(
                "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
            ))
        }
        None => {}
        Some(e) => {
            if has(e, |p| matches!(p, Part::QueryKey(_) | Part::LambdaKey(_))) {
                // Unconfirmed wording.
                return Err(constraint(
                    "ErrorOutputPrefix cannot contain partitionKeyFromQuery or partitionKeyFromLambda namespaces",
                ));
            }
            if has(e, Part::is_expression) && !has(e, |p| *p == Part::ErrorOutputType) {
                // Unconfirmed wording beyond the rule's own words.
                return Err(constraint(
                    "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions",
                ));
            }
        }
    }
    if let Some(tz) = time_zone.filter(|t| !t.is_empty()) {
        if TimeZone::get(tz).is_err() {
            // Unconfirmed wording (Firehose accepts the IANA names of its supported list).
            return Err(format!("CustomTimeZone {tz} is not a supported time zone."));
        }
    }
    Ok(())
}

fn zoned(ctx: &KeyContext) -> Zoned {
    let tz = ctx
        .time_zone
        .filter(|t| !t.is_empty())
        .and_then(|t| TimeZone::get(t).ok())
        .unwrap_or(TimeZone::UTC);
    let ts = Timestamp::from_millisecond(ctx.arrival_millis).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz)
}

/// `!{firehose:random-string}`: the developer guide's example output `046b6c7f-0b` is the first
/// 11 characters of a UUID, which is what is produced here.
fn random_string() -> String {
    uuid::Uuid::new_v4().to_string()[..RANDOM_STRING_LEN].to_string()
}

fn default_timestamp() -> Part {
    // The constant is a valid pattern; fall back to literal text rather than panic.
    Pattern::parse(DEFAULT_TIMESTAMP_PATTERN)
        .map(Part::Timestamp)
        .unwrap_or_else(|_| Part::Literal(String::new()))
}

/// Evaluates parsed parts. Err = a partition key the prefix names is missing.
fn evaluate(
    parts: &[Part],
    error_output_type: Option<&str>,
    ctx: &KeyContext,
) -> Result<String, String> {
    let time = zoned(ctx);
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Timestamp(p) => out.push_str(&p.format(&time)),
            Part::RandomString => out.push_str(&random_string()),
            Part::ErrorOutputType => out.push_str(error_output_type.unwrap_or("")),
            Part::QueryKey(k) => out.push_str(ctx.query_keys.get(k).ok_or_else(|| {
                format!("partitionKeyFromQuery:{k} is not among the record's partition keys")
            })?),
            Part::LambdaKey(k) => out.push_str(ctx.lambda_keys.get(k).ok_or_else(|| {
                format!("partitionKeyFromLambda:{k} is not among the record's partition keys")
            })?),
        }
    }
    Ok(out)
}

fn with_timestamp(mut parts: Vec<Part>) -> Vec<Part> {
    if !has(&parts, |p| matches!(p, Part::Timestamp(_))) {
        parts.push(default_timestamp());
    }
    parts
}

/// The evaluated Prefix (default `yyyy/MM/dd/HH/`). Err when a partition key it names is missing,
/// when the prefix does not parse, or when the result is longer than 512 characters (the pipeline
/// sends such records to the error prefix).
pub fn prefix(prefix: Option<&str>, ctx: &KeyContext) -> Result<String, String> {
    let parts = parse(prefix.unwrap_or(""))?;
    let dynamic = has(&parts, |p| {
        matches!(p, Part::QueryKey(_) | Part::LambdaKey(_))
    });
    let parts = if dynamic {
        parts
    } else {
        with_timestamp(parts)
    };
    let out = evaluate(&parts, None, ctx)?;
    if out.chars().count() > MAX_EVALUATED_PREFIX {
        return Err(format!(
            "The evaluated prefix is longer than {MAX_EVALUATED_PREFIX} characters"
        ));
    }
    Ok(out)
}

/// The evaluated error prefix for one error output type (e.g. "processing-failed").
///
/// An `ErrorOutputPrefix` is evaluated as written (the guide's example: `myFirehoseFailures/`
/// `!{firehose:error-output-type}/` evaluates to `myFirehoseFailures/processing-failed/`, no
/// timestamp appended); without one, `<literal Prefix><error-output-type>/yyyy/MM/dd/HH/`. Never
/// fails: a prefix that does not parse is used as literal text, and results are cut at 512
/// characters, so failed records always have somewhere to go.
pub fn error_prefix(
    error_output_prefix: Option<&str>,
    prefix: Option<&str>,
    error_output_type: &str,
    ctx: &KeyContext,
) -> String {
    let parts = match error_output_prefix.filter(|p| !p.is_empty()) {
        Some(e) => parse(e).unwrap_or_else(|_| vec![Part::Literal(e.to_string())]),
        None => {
            // Only literal prefixes may go without an ErrorOutputPrefix; keep their literal text.
            let literal: String = parse(prefix.unwrap_or(""))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| match p {
                    Part::Literal(s) => Some(s),
                    _ => None,
                })
                .collect();
            with_timestamp(vec![
                Part::Literal(literal),
                Part::ErrorOutputType,
                Part::Literal("/".to_string()),
            ])
        }
    };
    let parts: Vec<Part> = parts
        .into_iter()
        .map(|p| match p {
            // No partition keys exist for failed records; validation forbids them here anyway.
            Part::QueryKey(_) | Part::LambdaKey(_) => Part::Literal(String::new()),
            other => other,
        })
        .collect();
    let out = evaluate(&parts, Some(error_output_type), ctx).unwrap_or_default();
    out.chars().take(MAX_EVALUATED_PREFIX).collect()
}

/// `<name>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`; extension includes its dot or is "".
/// The time is the oldest record's arrival in the configured time zone.
pub fn object_name(ctx: &KeyContext, extension: &str) -> String {
    let t = zoned(ctx);
    format!(
        "{}-{}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}{}",
        ctx.delivery_stream,
        ctx.version,
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        uuid::Uuid::new_v4(),
        extension
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2018-08-27T10:30:05.123Z
    const T: i64 = 1_535_365_805_123;

    fn ctx<'a>(q: &'a BTreeMap<String, String>, l: &'a BTreeMap<String, String>) -> KeyContext<'a> {
        KeyContext {
            delivery_stream: "my-delivery-stream",
            version: 1,
            arrival_millis: T,
            time_zone: None,
            query_keys: q,
            lambda_keys: l,
        }
    }

    #[test]
    fn parses_expressions() {
        let parts = parse("a/!{timestamp:yyyy}/!{firehose:random-string}").unwrap();
        assert_eq!(parts.len(), 4);
        assert!(parse("a/!{timestamp:yyyy").is_err());
        assert!(parse("a/!{nope}").is_err());
        assert!(parse("a/!{other:x}/").is_err());
        assert!(parse("!{firehose:bogus}").is_err());
    }

    #[test]
    fn default_and_appended_timestamp() {
        let e = BTreeMap::new();
        let c = ctx(&e, &e);
        assert_eq!(prefix(None, &c).unwrap(), "2018/08/27/10/");
        assert_eq!(prefix(Some("logs/"), &c).unwrap(), "logs/2018/08/27/10/");
        assert_eq!(prefix(Some("!{timestamp:yyyy}/"), &c).unwrap(), "2018/");
    }
}
