//! Shapes and checks the CloudWatch operations share: dimensions, statistics, periods.

use super::wire::Input;
use super::CwError;
use weir_metrics::Datapoint;

pub const MAX_DIMENSIONS: usize = 30;
/// GetMetricStatistics' limit on datapoints per call.
pub const MAX_DATAPOINTS: i64 = 1440;

/// A `Dimensions` list as `(Name, Value)` pairs.
pub fn dimensions<'a>(
    i: &Input<'a>,
    key: &str,
    value_required: bool,
) -> Result<Vec<(&'a str, Option<&'a str>)>, CwError> {
    let list = i.list(key)?;
    if list.len() > MAX_DIMENSIONS {
        return Err(CwError::invalid_value(format!(
            "The collection {key} must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    list.iter()
        .map(|d| {
            let name = d.required_str("Name")?;
            let value = if value_required {
                Some(d.required_str("Value")?)
            } else {
                d.str("Value")?
            };
            Ok((name, value))
        })
        .collect()
}

/// A `Dimensions` list whose values are required, as a metric's exact dimension set.
pub fn exact_dimensions<'a>(i: &Input<'a>, key: &str) -> Result<Vec<(&'a str, &'a str)>, CwError> {
    Ok(dimensions(i, key, true)?
        .into_iter()
        .map(|(name, value)| (name, value.unwrap_or_default()))
        .collect())
}

/// A statistic: one of CloudWatch's five, or a percentile (`p99`, `p99.9`).
#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    Percentile { label: String, q: f64 },
}

pub const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

impl Statistic {
    pub fn basic(s: &str) -> Option<Statistic> {
        Some(match s {
            "SampleCount" => Statistic::SampleCount,
            "Average" => Statistic::Average,
            "Sum" => Statistic::Sum,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ => return None,
        })
    }

    pub fn percentile(s: &str) -> Option<Statistic> {
        let n = s.strip_prefix('p')?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let v: f64 = n.parse().ok()?;
        (0.0..=100.0).contains(&v).then(|| Statistic::Percentile {
            label: s.to_string(),
            q: v / 100.0,
        })
    }

    pub fn parse(s: &str) -> Option<Statistic> {
        Self::basic(s).or_else(|| Self::percentile(s))
    }

    /// This statistic of a datapoint; `None` for a percentile of a metric without buckets.
    pub fn of(&self, p: &Datapoint) -> Option<f64> {
        let s = &p.stat;
        Some(match self {
            Statistic::SampleCount => s.count as f64,
            Statistic::Average => s.average(),
            Statistic::Sum => s.sum,
            Statistic::Minimum => s.min,
            Statistic::Maximum => s.max,
            Statistic::Percentile { q, .. } => p.histogram.as_ref()?.quantile(*q, s)?,
        })
    }
}

/// Checks a Period: 1, 5, 10, 20, 30 or a multiple of 60 seconds.
pub fn period(value: Option<i64>, name: &str) -> Result<u32, CwError> {
    let p = value.ok_or_else(|| CwError::missing(name))?;
    let ok = p >= 1 && p <= u32::MAX as i64 && (matches!(p, 1 | 5 | 10 | 20 | 30) || p % 60 == 0);
    if !ok {
        return Err(CwError::invalid_value(format!(
            "The parameter {name} must be 1, 5, 10, 20, 30, or a multiple of 60."
        )));
    }
    Ok(p as u32)
}

/// Checks that the time range is not empty.
pub fn time_range(start_ms: i64, end_ms: i64) -> Result<(), CwError> {
    if start_ms >= end_ms {
        return Err(CwError::invalid_value(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_periods() {
        assert_eq!(Statistic::parse("Sum"), Some(Statistic::Sum));
        assert!(matches!(
            Statistic::parse("p99.9"),
            Some(Statistic::Percentile { q, .. }) if (q - 0.999).abs() < 1e-9
        ));
        for bad in ["sum", "p", "p101", "px", "tm99"] {
            assert_eq!(Statistic::parse(bad), None, "{bad}");
        }
        assert_eq!(period(Some(60), "Period"), Ok(60));
        assert_eq!(period(Some(5), "Period"), Ok(5));
        assert_eq!(period(Some(3600), "Period"), Ok(3600));
        assert_eq!(
            period(Some(7), "Period").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            period(Some(0), "Period").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(period(None, "Period").unwrap_err().code, "MissingParameter");
        assert!(time_range(1, 1).is_err());
        assert!(time_range(1, 2).is_ok());
    }
}
