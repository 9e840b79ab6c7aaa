//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! Firehose S3 object keys: UTC only, `!{timestamp:...}` with yyyy/MM/dd/HH/mm/ss tokens,
//! `!{partitionKeyFromQuery:k}`, `!{partitionKeyFromLambda:k}`, `!{firehose:error-output-type}`,
//! `!{firehose:random-string}`.

use std::collections::BTreeMap;

pub struct KeyContext<'a> {
    pub delivery_stream: &'a str,
    pub version: u64,
    pub arrival_millis: i64,
    pub time_zone: Option<&'a str>,
    pub query_keys: &'a BTreeMap<String, String>,
    pub lambda_keys: &'a BTreeMap<String, String>,
}

const DEFAULT_PREFIX: &str = "!{timestamp:yyyy/MM/dd/HH/}";

pub fn validate(
    prefix: Option<&str>,
    error_output_prefix: Option<&str>,
    _dynamic_partitioning: bool,
    _time_zone: Option<&str>,
) -> Result<(), String> {
    let p = prefix.unwrap_or("");
    let e = error_output_prefix.unwrap_or("");
    if p.contains("!{firehose:error-output-type}") {
        return Err(
            "The '!{firehose:error-output-type}' expression is only allowed in ErrorOutputPrefix."
                .into(),
        );
    }
    if p.contains("!{") && e.is_empty() {
        return Err(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions.".into(),
        );
    }
    if !e.is_empty() && p.contains("!{") && !e.contains("!{firehose:error-output-type}") {
        return Err("ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix contains expressions.".into());
    }
    Ok(())
}

pub fn prefix(prefix: Option<&str>, ctx: &KeyContext) -> Result<String, String> {
    let p = match prefix {
        None | Some("") => DEFAULT_PREFIX.to_string(),
        Some(p) if !p.contains("!{timestamp:") => format!("{p}{DEFAULT_PREFIX}"),
        Some(p) => p.to_string(),
    };
    evaluate(&p, ctx, None)
}

pub fn error_prefix(
    error_output_prefix: Option<&str>,
    prefix: Option<&str>,
    error_output_type: &str,
    ctx: &KeyContext,
) -> String {
    let p = match error_output_prefix {
        Some(e) if !e.is_empty() => {
            if e.contains("!{timestamp:") {
                e.to_string()
            } else {
                format!("{e}{DEFAULT_PREFIX}")
            }
        }
        _ => format!(
            "{}{error_output_type}/{DEFAULT_PREFIX}",
            prefix.unwrap_or("")
        ),
    };
    evaluate(&p, ctx, Some(error_output_type)).unwrap_or_else(|_| format!("{error_output_type}/"))
}

pub fn object_name(ctx: &KeyContext, extension: &str) -> String {
    format!(
        "{}-{}-{}-{}{}",
        ctx.delivery_stream,
        ctx.version,
        format_time(ctx.arrival_millis, "yyyy-MM-dd-HH-mm-ss"),
        uuid::Uuid::new_v4(),
        extension
    )
}

fn evaluate(p: &str, ctx: &KeyContext, error_type: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = p;
    while let Some(i) = rest.find("!{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find('}').ok_or("unterminated expression")?;
        let expr = &after[..j];
        let (ns, v) = expr.split_once(':').ok_or("bad expression")?;
        match ns {
            "timestamp" => out.push_str(&format_time(ctx.arrival_millis, v)),
            "partitionKeyFromQuery" => out.push_str(
                ctx.query_keys
                    .get(v)
                    .ok_or_else(|| format!("partition key {v} missing"))?,
            ),
            "partitionKeyFromLambda" => out.push_str(
                ctx.lambda_keys
                    .get(v)
                    .ok_or_else(|| format!("partition key {v} missing"))?,
            ),
            "firehose" if v == "error-output-type" => out.push_str(error_type.unwrap_or("")),
            "firehose" if v == "random-string" => {
                out.push_str(&uuid::Uuid::new_v4().simple().to_string()[..11])
            }
            _ => return Err(format!("unknown expression {expr}")),
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Civil UTC date/time of epoch milliseconds.
pub(crate) fn civil(millis: i64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        (sod % 3600 / 60) as u32,
        (sod % 60) as u32,
    )
}

fn format_time(millis: i64, pattern: &str) -> String {
    let (y, mo, d, h, mi, s) = civil(millis);
    let mut out = String::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        let (tok, val) = if rest.starts_with("yyyy") {
            ("yyyy", format!("{y:04}"))
        } else if rest.starts_with("MM") {
            ("MM", format!("{mo:02}"))
        } else if rest.starts_with("dd") {
            ("dd", format!("{d:02}"))
        } else if rest.starts_with("HH") {
            ("HH", format!("{h:02}"))
        } else if rest.starts_with("mm") {
            ("mm", format!("{mi:02}"))
        } else if rest.starts_with("ss") {
            ("ss", format!("{s:02}"))
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        out.push_str(&val);
        rest = &rest[tok.len()..];
    }
    out
}
