//! Schedules: EventBridge-style rules with a schedule expression and function targets.
//!
//! One task watches every rule against the [`Clock`] (so tests advance a manual clock) and
//! invokes each target asynchronously with the Scheduled Event (or the target's `Input`). A rule
//! fires once per due time; if weir was down, or the clock jumped, across several due times it
//! fires once for the latest and moves on, as EventBridge does not backfill. Rules persist in
//! the metadata store with the time they last fired.

pub mod expr;

use crate::{Error, FunctionService, Result};
use expr::Schedule;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use weir_core::Clock;
use weir_storage::metadata::{Expect, MetaOp};
use weir_storage::MetadataStore;

const TABLE: &str = "schedule_rules";
/// How often the scheduler looks at the clock.
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub arn: String,
    /// JSON text sent instead of the Scheduled Event.
    pub input: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub schedule_expression: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub targets: Vec<Target>,
    pub created_millis: i64,
    pub last_fired_millis: Option<i64>,
}

/// The schedule service. Cheap to clone.
#[derive(Clone)]
pub struct Schedules {
    inner: Arc<Inner>,
}

struct Inner {
    meta: Arc<dyn MetadataStore>,
    functions: FunctionService,
    clock: Arc<dyn Clock>,
    /// Parsed expressions and next due times, by rule name.
    due: Mutex<HashMap<String, (Schedule, Option<i64>)>>,
}

impl Schedules {
    pub fn open(
        meta: Arc<dyn MetadataStore>,
        functions: FunctionService,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let s = Schedules {
            inner: Arc::new(Inner {
                meta,
                functions,
                clock,
                due: Mutex::default(),
            }),
        };
        let now = s.inner.clock.now_millis();
        for rule in s.list(None)? {
            if let Ok(schedule) = Schedule::parse(&rule.schedule_expression) {
                let from = rule.last_fired_millis.unwrap_or(now).max(now);
                let next = schedule.next_after(from, rule.created_millis);
                s.inner
                    .due
                    .lock()
                    .insert(rule.name.clone(), (schedule, next));
            }
        }
        Ok(s)
    }

    pub fn arn(&self, name: &str) -> String {
        let c = self.inner.functions.settings();
        format!("arn:aws:events:{}:{}:rule/{name}", c.region, c.account_id)
    }

    /// PutRule: creates or replaces a rule (its targets stay).
    pub fn put_rule(
        &self,
        name: &str,
        expression: &str,
        enabled: bool,
        description: Option<String>,
    ) -> Result<Rule> {
        let schedule = Schedule::parse(expression).map_err(Error::Invalid)?;
        let now = self.inner.clock.now_millis();
        let previous = self.get(name).ok();
        let rule = Rule {
            name: name.to_string(),
            schedule_expression: expression.to_string(),
            enabled,
            description,
            targets: previous
                .as_ref()
                .map(|p| p.targets.clone())
                .unwrap_or_default(),
            created_millis: match &previous {
                Some(p) if p.schedule_expression == expression => p.created_millis,
                _ => now,
            },
            last_fired_millis: previous.and_then(|p| p.last_fired_millis),
        };
        self.store(&rule)?;
        let next = schedule.next_after(now, rule.created_millis);
        self.inner
            .due
            .lock()
            .insert(name.to_string(), (schedule, next));
        Ok(rule)
    }

    pub fn get(&self, name: &str) -> Result<Rule> {
        let v = self.inner.meta.get(TABLE, name)?.ok_or_else(|| {
            Error::NotFound(format!("Rule {name} does not exist on EventBus default."))
        })?;
        serde_json::from_slice(&v.value).map_err(|e| Error::Internal(e.to_string()))
    }

    pub fn list(&self, prefix: Option<&str>) -> Result<Vec<Rule>> {
        Ok(self
            .inner
            .meta
            .list(TABLE)?
            .into_iter()
            .filter(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
            .filter_map(|(_, v)| serde_json::from_slice(&v.value).ok())
            .collect())
    }

    pub fn delete_rule(&self, name: &str) -> Result<()> {
        let rule = self.get(name)?;
        if !rule.targets.is_empty() {
            return Err(Error::Invalid(
                "Rule can't be deleted since it has targets.".into(),
            ));
        }
        self.inner.meta.transact(vec![MetaOp::Delete {
            table: TABLE.into(),
            key: name.into(),
            expect: Expect::Any,
        }])?;
        self.inner.due.lock().remove(name);
        Ok(())
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        let mut rule = self.get(name)?;
        rule.enabled = enabled;
        self.store(&rule)
    }

    /// PutTargets: adds or replaces targets by Id.
    pub fn put_targets(&self, name: &str, targets: Vec<Target>) -> Result<()> {
        let mut rule = self.get(name)?;
        for t in targets {
            rule.targets.retain(|x| x.id != t.id);
            rule.targets.push(t);
        }
        self.store(&rule)
    }

    pub fn remove_targets(&self, name: &str, ids: &[String]) -> Result<()> {
        let mut rule = self.get(name)?;
        rule.targets.retain(|t| !ids.contains(&t.id));
        self.store(&rule)
    }

    fn store(&self, rule: &Rule) -> Result<()> {
        let value = serde_json::to_vec(rule).map_err(|e| Error::Internal(e.to_string()))?;
        self.inner.meta.transact(vec![MetaOp::Put {
            table: TABLE.into(),
            key: rule.name.clone(),
            value,
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    /// Runs the scheduler until the task is aborted.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                s.tick();
                tokio::time::sleep(TICK).await;
            }
        })
    }

    /// Fires every rule that is due now (public for tests that drive time themselves).
    pub fn tick(&self) {
        let now = self.inner.clock.now_millis();
        let due: Vec<(String, i64)> = {
            let mut map = self.inner.due.lock();
            let mut out = Vec::new();
            for (name, (schedule, next)) in map.iter_mut() {
                let Some(at) = *next else { continue };
                if at > now {
                    continue;
                }
                // The latest due time not after now: fire once for it.
                let mut fire = at;
                while let Some(n) = schedule.next_after(fire, 0).filter(|n| *n <= now) {
                    if matches!(schedule, Schedule::Rate { .. }) {
                        break;
                    }
                    fire = n;
                }
                out.push((name.clone(), fire));
                *next = match schedule {
                    Schedule::Rate { period_millis } => {
                        Some(at + ((now - at) / *period_millis + 1) * *period_millis)
                    }
                    _ => schedule.next_after(now, 0),
                };
            }
            out
        };
        for (name, at) in due {
            let Ok(mut rule) = self.get(&name) else {
                continue;
            };
            rule.last_fired_millis = Some(at);
            if let Err(e) = self.store(&rule) {
                tracing::warn!(rule = %name, error = %e, "cannot record a schedule firing");
            }
            if !rule.enabled {
                continue;
            }
            for target in &rule.targets {
                let payload = match &target.input {
                    Some(input) => input.clone().into_bytes(),
                    None => scheduled_event(&self.arn(&name), self.inner.functions.settings(), at),
                };
                let functions = self.inner.functions.clone();
                let (rule_name, arn) = (name.clone(), target.arn.clone());
                tokio::spawn(async move {
                    match functions.invoke(&arn, payload.into()).await {
                        Ok(o) if o.is_error() => {
                            tracing::warn!(rule = %rule_name, target = %arn, "scheduled invocation failed: {}", String::from_utf8_lossy(&o.payload))
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(rule = %rule_name, target = %arn, error = %e, "scheduled invocation could not run")
                        }
                    }
                });
            }
        }
    }
}

/// EventBridge's Scheduled Event for a firing at `at_millis`.
pub fn scheduled_event(
    rule_arn: &str,
    settings: &crate::FunctionsConfig,
    at_millis: i64,
) -> Vec<u8> {
    let time = crate::mappings::event::iso8601(at_millis - at_millis.rem_euclid(1000), false);
    let v = serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": settings.account_id,
        "time": time,
        "region": settings.region,
        "resources": [rule_arn],
        "detail": {},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}
