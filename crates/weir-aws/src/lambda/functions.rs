//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction and the
//! reserved-concurrency operations.

use super::shapes::function_configuration;
use super::{json_body, Answer, LambdaError, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use weir_functions::model::{MAX_MEMORY_MB, MAX_TIMEOUT_SECS, MIN_MEMORY_MB};
use weir_functions::{Code, CreateFunction, FunctionService};

fn null(member: &str) -> LambdaError {
    LambdaError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn range(member: &str, v: i64, min: i64, max: i64) -> Result<u32> {
    if v < min {
        return Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if v > max {
        return Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(v as u32)
}

fn string<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(LambdaError::new(
            "InvalidRequestContentException",
            400,
            format!("Could not parse request body into json: {key} must be a string"),
        )),
    }
}

fn int(m: &serde_json::Map<String, Value>, key: &str) -> Result<Option<i64>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            LambdaError::new(
                "InvalidRequestContentException",
                400,
                format!("Could not parse request body into json: {key} must be an integer"),
            )
        }),
    }
}

/// A function name as CreateFunction accepts it (after taking it out of an ARN).
pub(crate) fn check_name(member: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )))
    }
}

/// Splits a command line into words, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub(crate) async fn create(svc: &FunctionService, body: &[u8]) -> Result<Answer> {
    let m = json_body(body)?;
    let name = string(&m, "FunctionName")?.ok_or_else(|| null("functionName"))?;
    let name = FunctionService::name_of(name).to_string();
    check_name("functionName", &name)?;
    let role = string(&m, "Role")?.ok_or_else(|| null("role"))?.to_string();
    let code = m
        .get("Code")
        .and_then(Value::as_object)
        .ok_or_else(|| null("code"))?;
    let runtime = string(&m, "Runtime")?.map(str::to_string);
    let handler = string(&m, "Handler")?.map(str::to_string);
    let timeout = int(&m, "Timeout")?
        .map(|v| range("timeout", v, 1, MAX_TIMEOUT_SECS as i64))
        .transpose()?;
    let memory = int(&m, "MemorySize")?
        .map(|v| range("memorySize", v, MIN_MEMORY_MB as i64, MAX_MEMORY_MB as i64))
        .transpose()?;
    let environment: BTreeMap<String, String> = m
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let zip_file = match code.get("ZipFile") {
        Some(Value::String(b64)) => Some(
            base64_simd::STANDARD
                .decode_to_vec(b64.as_bytes())
                .map_err(|_| LambdaError::invalid("Could not unzip uploaded file. Please check your file, then try to upload again."))?,
        ),
        _ => None,
    };
    if zip_file.is_none() && (code.contains_key("S3Bucket") || code.contains_key("ImageUri")) {
        return Err(LambdaError::invalid(
            "weir takes function code as Code.ZipFile, or a command or URL in Handler (see the README); S3 and image code locations are not supported",
        ));
    }
    let command_code = if zip_file.is_some() {
        None
    } else {
        let line = handler.clone().ok_or_else(|| {
            LambdaError::invalid("Please provide a source for function code: Code.ZipFile, or the command or URL to run as Handler.")
        })?;
        if line.starts_with("http://") || line.starts_with("https://") {
            Some(Code::Http { url: line })
        } else {
            let mut w = words(&line);
            if w.is_empty() {
                return Err(LambdaError::invalid("Handler is an empty command."));
            }
            let program = w.remove(0);
            Some(Code::Command {
                program,
                args: w,
                working_dir: environment.get("WEIR_WORKING_DIRECTORY").map(Into::into),
            })
        }
    };
    let f = svc
        .create(CreateFunction {
            name,
            runtime,
            role,
            handler,
            description: string(&m, "Description")?.unwrap_or_default().to_string(),
            timeout_secs: timeout,
            memory_mb: memory,
            environment,
            zip_file,
            code: command_code,
        })
        .await?;
    Ok(Answer::json(201, &function_configuration(&f)))
}

pub(crate) fn get(svc: &FunctionService, name: &str) -> Result<Answer> {
    let f = svc.get(&super::percent_decode(name))?;
    let mut v = json!({
        "Configuration": function_configuration(&f),
        "Code": {"RepositoryType": "S3", "Location": ""},
    });
    if let Some(c) = f.reserved_concurrency {
        v["Concurrency"] = json!({"ReservedConcurrentExecutions": c});
    }
    Ok(Answer::json(200, &v))
}

pub(crate) fn get_configuration(svc: &FunctionService, name: &str) -> Result<Answer> {
    let f = svc.get(&super::percent_decode(name))?;
    Ok(Answer::json(200, &function_configuration(&f)))
}

pub(crate) fn list(svc: &FunctionService, query: &[(String, String)]) -> Result<Answer> {
    let mut all = svc.list()?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let max = query
        .iter()
        .find(|(k, _)| k == "MaxItems")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 10_000);
    let marker = query
        .iter()
        .find(|(k, _)| k == "Marker")
        .map(|(_, v)| v.as_str());
    let start = marker.map_or(0, |m| {
        all.iter()
            .position(|f| f.name.as_str() > m)
            .unwrap_or(all.len())
    });
    let page: Vec<_> = all.iter().skip(start).take(max).collect();
    let mut v =
        json!({"Functions": page.iter().map(|f| function_configuration(f)).collect::<Vec<_>>()});
    if start + page.len() < all.len() {
        if let Some(last) = page.last() {
            v["NextMarker"] = json!(last.name);
        }
    }
    Ok(Answer::json(200, &v))
}

pub(crate) fn delete(svc: &FunctionService, name: &str) -> Result<Answer> {
    svc.delete(&super::percent_decode(name))?;
    Ok(Answer {
        status: http::StatusCode::NO_CONTENT,
        body: bytes::Bytes::new(),
        headers: Vec::new(),
    })
}

pub(crate) fn put_concurrency(svc: &FunctionService, name: &str, body: &[u8]) -> Result<Answer> {
    let m = json_body(body)?;
    let n = int(&m, "ReservedConcurrentExecutions")?
        .ok_or_else(|| null("reservedConcurrentExecutions"))?;
    let n = range("reservedConcurrentExecutions", n, 0, 1000)?;
    if n == 0 {
        return Err(LambdaError::invalid(
            "weir does not support a reserved concurrency of 0 (throttling every invocation); delete the function instead",
        ));
    }
    svc.set_concurrency(&super::percent_decode(name), Some(n))?;
    Ok(Answer::json(
        200,
        &json!({"ReservedConcurrentExecutions": n}),
    ))
}

pub(crate) fn delete_concurrency(svc: &FunctionService, name: &str) -> Result<Answer> {
    svc.set_concurrency(&super::percent_decode(name), None)?;
    Ok(Answer {
        status: http::StatusCode::NO_CONTENT,
        body: bytes::Bytes::new(),
        headers: Vec::new(),
    })
}

pub(crate) fn get_concurrency(svc: &FunctionService, name: &str) -> Result<Answer> {
    let f = svc.get(&super::percent_decode(name))?;
    let v = match f.reserved_concurrency {
        Some(n) => json!({"ReservedConcurrentExecutions": n}),
        None => json!({}),
    };
    Ok(Answer::json(200, &v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            super::words(r#"python3 -m awslambdaric "app.handler" 'a b'"#),
            ["python3", "-m", "awslambdaric", "app.handler", "a b"]
        );
        assert_eq!(super::words("  ./bootstrap  "), ["./bootstrap"]);
    }
}
