//! Timestamps as the CloudWatch protocols write them: epoch seconds (CBOR tag 1 and JSON
//! numbers) and ISO 8601 (awsQuery), converted to and from epoch milliseconds.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Parses `2026-01-01T00:00:00Z`, with optional fractional seconds and a `Z` or `±HH:MM`
/// offset, or a plain number of epoch seconds.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1000.0).round() as i64);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i)?;
        if frac.is_empty() {
            return None;
        }
        let ms: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = ms.parse().ok()?;
    }
    let offset_min = match s.get(i..)? {
        "" | "Z" | "z" => 0,
        tz => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = match tz.len() {
                6 if tz.as_bytes()[3] == b':' => (tz.get(1..3)?, tz.get(4..6)?),
                5 => (tz.get(1..3)?, tz.get(3..5)?),
                _ => return None,
            };
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?)
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + millis)
}

/// Formats epoch milliseconds as `2026-01-01T00:00:00Z` (`.123` added when not whole).
pub fn format(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    );
    if millis != 0 {
        s.push_str(&format!(".{millis:03}"));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clients_send() {
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(parse("2026-01-01T00:00:00Z"), Some(t));
        assert_eq!(parse("2026-01-01T00:00:00"), Some(t));
        assert_eq!(parse("2026-01-01T00:00:00.5Z"), Some(t + 500));
        assert_eq!(parse("2026-01-01T01:00:00+01:00"), Some(t));
        assert_eq!(parse("2025-12-31T23:00:00-0100"), Some(t));
        assert_eq!(parse("1767225600"), Some(t));
        assert_eq!(parse("1767225600.25"), Some(t + 250));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-01",
            "2026-01-01T00:00:00X",
            "soon",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(951_782_400_123), "2000-02-29T00:00:00.123Z");
        for ms in [0, 1, 951_782_400_123, 1_767_225_600_000, 4_102_444_799_999] {
            assert_eq!(parse(&format(ms)), Some(ms));
        }
    }
}
