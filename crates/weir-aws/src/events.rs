//! The EventBridge subset for schedules (awsJson1.1, `AWSEvents.*`): PutRule, DescribeRule,
//! ListRules, DeleteRule, EnableRule, DisableRule, PutTargets, RemoveTargets,
//! ListTargetsByRule. Rules are schedule rules on the default event bus; event patterns are not
//! supported and say so.

use crate::error::ApiError;
use serde_json::{json, Map, Value};
use weir_functions::schedules::{Rule, Schedules, Target};

pub const TARGET_PREFIX: &str = "AWSEvents";

fn err(e: weir_functions::Error) -> ApiError {
    use weir_functions::Error as E;
    match e {
        E::NotFound(m) => ApiError::new("ResourceNotFoundException", m),
        E::Invalid(m) => ApiError::validation(m),
        other => ApiError::internal(other.to_string()),
    }
}

fn string<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::serialization(format!("{key} must be a string"))),
    }
}

fn required<'a>(m: &'a Map<String, Value>, key: &str, member: &str) -> Result<&'a str, ApiError> {
    string(m, key)?.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn rule_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )))
    }
}

fn describe(s: &Schedules, r: &Rule) -> Value {
    let mut v = json!({
        "Name": r.name,
        "Arn": s.arn(&r.name),
        "ScheduleExpression": r.schedule_expression,
        "State": if r.enabled { "ENABLED" } else { "DISABLED" },
        "EventBusName": "default",
    });
    if let Some(d) = &r.description {
        v["Description"] = json!(d);
    }
    v
}

pub fn is_operation(op: &str) -> bool {
    matches!(
        op,
        "PutRule"
            | "DescribeRule"
            | "ListRules"
            | "DeleteRule"
            | "EnableRule"
            | "DisableRule"
            | "PutTargets"
            | "RemoveTargets"
            | "ListTargetsByRule"
    )
}

/// Runs one operation on a JSON body.
pub fn dispatch(s: &Schedules, op: &str, body: &[u8]) -> Result<Value, ApiError> {
    let m: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ApiError::serialization("")),
    };
    match op {
        "PutRule" => {
            let name = required(&m, "Name", "name")?;
            rule_name(name)?;
            if m.get("EventPattern").is_some_and(|v| !v.is_null()) {
                return Err(ApiError::validation(
                    "weir's rules are schedules: EventPattern is not supported; give a ScheduleExpression.",
                ));
            }
            let expr = string(&m, "ScheduleExpression")?.ok_or_else(|| {
                ApiError::validation(
                    "Parameter(s) EventPattern or ScheduleExpression must be specified.",
                )
            })?;
            let enabled = match string(&m, "State")? {
                None | Some("ENABLED") => true,
                Some("DISABLED") => false,
                Some(other) => {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
                    )))
                }
            };
            let desc = string(&m, "Description")?.map(str::to_string);
            s.put_rule(name, expr, enabled, desc).map_err(err)?;
            Ok(json!({"RuleArn": s.arn(name)}))
        }
        "DescribeRule" => {
            let r = s.get(required(&m, "Name", "name")?).map_err(err)?;
            Ok(describe(s, &r))
        }
        "ListRules" => {
            let prefix = string(&m, "NamePrefix")?;
            let rules = s.list(prefix).map_err(err)?;
            Ok(json!({"Rules": rules.iter().map(|r| describe(s, r)).collect::<Vec<_>>()}))
        }
        "DeleteRule" => {
            s.delete_rule(required(&m, "Name", "name")?).map_err(err)?;
            Ok(json!({}))
        }
        "EnableRule" | "DisableRule" => {
            s.set_enabled(required(&m, "Name", "name")?, op == "EnableRule")
                .map_err(err)?;
            Ok(json!({}))
        }
        "PutTargets" => {
            let rule = required(&m, "Rule", "rule")?;
            let targets = m
                .get("Targets")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::validation("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null"))?;
            let mut parsed = Vec::new();
            for t in targets {
                let t = t.as_object().ok_or_else(|| ApiError::serialization(""))?;
                parsed.push(Target {
                    id: required(t, "Id", "id")?.to_string(),
                    arn: required(t, "Arn", "arn")?.to_string(),
                    input: string(t, "Input")?.map(str::to_string),
                });
            }
            s.put_targets(rule, parsed).map_err(err)?;
            Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
        }
        "RemoveTargets" => {
            let rule = required(&m, "Rule", "rule")?;
            let ids: Vec<String> = m
                .get("Ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            s.remove_targets(rule, &ids).map_err(err)?;
            Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
        }
        "ListTargetsByRule" => {
            let r = s.get(required(&m, "Rule", "rule")?).map_err(err)?;
            let targets: Vec<Value> = r
                .targets
                .iter()
                .map(|t| {
                    let mut v = json!({"Id": t.id, "Arn": t.arn});
                    if let Some(i) = &t.input {
                        v["Input"] = json!(i);
                    }
                    v
                })
                .collect();
            Ok(json!({"Targets": targets}))
        }
        _ => Err(ApiError::new("UnknownOperationException", "")),
    }
}
