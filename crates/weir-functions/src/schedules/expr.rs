//! Schedule expressions as EventBridge writes them: `rate(5 minutes)`, `cron(0 12 L * ? *)`
//! (AWS's six fields: minutes, hours, day of month, month, day of week 1-7 = SUN-SAT, year; one
//! of the two day fields is `?`; `L`, `W` and `#` allowed) and `at(2026-12-01T08:00:00)` (one
//! time, UTC — EventBridge Scheduler's form, accepted here for rules too).

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};

/// EventBridge's message for any invalid expression.
pub const INVALID: &str = "Parameter ScheduleExpression is not valid.";

#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every `period_millis`, counted from the rule's creation.
    Rate {
        period_millis: i64,
    },
    Cron(Box<croner::Cron>),
    At {
        millis: i64,
    },
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let (n, unit) = inner.trim().split_once(' ').ok_or(INVALID)?;
            let n: i64 = n.parse().map_err(|_| INVALID)?;
            let unit_millis = match (n, unit.trim()) {
                (1, "minute") => 60_000,
                (1, "hour") => 3_600_000,
                (1, "day") => 86_400_000,
                (n, "minutes") if n > 1 => 60_000,
                (n, "hours") if n > 1 => 3_600_000,
                (n, "days") if n > 1 => 86_400_000,
                _ => return Err(INVALID.into()),
            };
            return Ok(Schedule::Rate {
                period_millis: n * unit_millis,
            });
        }
        if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            let fields: Vec<&str> = inner.split_whitespace().collect();
            if fields.len() != 6 {
                return Err(INVALID.into());
            }
            // AWS requires `?` in exactly one of day-of-month and day-of-week.
            if (fields[2] == "?") == (fields[4] == "?") {
                return Err(INVALID.into());
            }
            let pattern = format!("0 {}", fields.join(" "));
            let cron = CronParser::builder()
                .seconds(Seconds::Required)
                .year(Year::Required)
                .alternative_weekdays(true)
                .build()
                .parse(&pattern)
                .map_err(|_| INVALID)?;
            return Ok(Schedule::Cron(Box::new(cron)));
        }
        if let Some(inner) = expr.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
            let t = chrono::NaiveDateTime::parse_from_str(inner.trim(), "%Y-%m-%dT%H:%M:%S")
                .map_err(|_| INVALID)?;
            return Ok(Schedule::At {
                millis: t.and_utc().timestamp_millis(),
            });
        }
        Err(INVALID.into())
    }

    /// The first firing time strictly after `after_millis`; `origin_millis` anchors rates.
    pub fn next_after(&self, after_millis: i64, origin_millis: i64) -> Option<i64> {
        match self {
            Schedule::Rate { period_millis } => {
                let elapsed = (after_millis - origin_millis).max(0);
                Some(origin_millis + (elapsed / period_millis + 1) * period_millis)
            }
            Schedule::Cron(cron) => {
                let from: DateTime<Utc> = DateTime::from_timestamp_millis(after_millis)?;
                cron.find_next_occurrence(&from, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
            Schedule::At { millis } => (*millis > after_millis).then_some(*millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn next(expr: &str, after: &str) -> String {
        let t = Schedule::parse(expr)
            .unwrap()
            .next_after(ms(after), ms(after))
            .unwrap();
        DateTime::from_timestamp_millis(t)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    #[test]
    fn rates_count_from_their_origin() {
        let s = Schedule::parse("rate(5 minutes)").unwrap();
        let o = ms("2026-12-01T08:00:30Z");
        assert_eq!(s.next_after(o, o), Some(o + 300_000));
        assert_eq!(s.next_after(o + 300_000, o), Some(o + 600_000));
        assert!(Schedule::parse("rate(1 minutes)").is_err());
        assert!(Schedule::parse("rate(2 minute)").is_err());
        assert!(Schedule::parse("rate(0 minutes)").is_err());
        assert!(Schedule::parse("rate(1 hour)").is_ok());
    }

    #[test]
    fn aws_cron_with_l_w_hash_and_year() {
        // 12:00 on the last day of the month.
        assert_eq!(
            next("cron(0 12 L * ? *)", "2026-12-01T08:00:00Z"),
            "2026-12-31T12:00:00Z"
        );
        assert_eq!(
            next("cron(0 12 L * ? *)", "2027-02-01T00:00:00Z"),
            "2027-02-28T12:00:00Z"
        );
        // The weekday nearest the 15th: 2026-11-15 is a Sunday → Monday the 16th.
        assert_eq!(
            next("cron(0 9 15W * ? *)", "2026-11-01T00:00:00Z"),
            "2026-11-16T09:00:00Z"
        );
        // The third Friday (6 = FRI in AWS's 1-7 = SUN-SAT).
        assert_eq!(
            next("cron(0 10 ? * 6#3 *)", "2026-12-01T00:00:00Z"),
            "2026-12-18T10:00:00Z"
        );
        // Weekdays at 08:15, by name.
        assert_eq!(
            next("cron(15 8 ? * MON-FRI *)", "2026-12-05T00:00:00Z"),
            "2026-12-07T08:15:00Z"
        );
        // A year field.
        assert_eq!(
            next("cron(0 0 1 1 ? 2028)", "2026-12-01T00:00:00Z"),
            "2028-01-01T00:00:00Z"
        );
        // Every 10 minutes.
        assert_eq!(
            next("cron(0/10 * * * ? *)", "2026-12-01T08:03:00Z"),
            "2026-12-01T08:10:00Z"
        );
    }

    #[test]
    fn cron_needs_a_question_mark_in_one_day_field() {
        assert!(Schedule::parse("cron(0 12 * * * *)").is_err());
        assert!(Schedule::parse("cron(0 12 ? * ? *)").is_err());
        assert!(Schedule::parse("cron(0 12 * * ?)").is_err(), "five fields");
        assert_eq!(Schedule::parse("cron(nope)").unwrap_err(), INVALID);
    }

    #[test]
    fn at_fires_once() {
        let s = Schedule::parse("at(2026-12-24T18:00:00)").unwrap();
        let t = ms("2026-12-24T18:00:00Z");
        assert_eq!(s.next_after(t - 1, 0), Some(t));
        assert_eq!(s.next_after(t, 0), None);
    }
}
