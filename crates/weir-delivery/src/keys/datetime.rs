//! Java `DateTimeFormatter` patterns, as Firehose's `!{timestamp:...}` expressions use them.
//!
//! Firehose runs on the JVM and formats with `DateTimeFormatter.ofPattern(p)` in the default (US)
//! locale, so the letters, counts, quoting and text forms below follow the JDK's documentation of
//! `ofPattern`: a run of one letter is one field, `'text'` is literal (`''` is one quote), other
//! non-letters are literal, `[` and `]` open and close optional sections (always printed here
//! since every field is available), and `#`, `{`, `}` are reserved. Locale-dependent week fields
//! (`Y`, `w`, `W`, `e`, `c`) use the US rules: weeks start on Sunday, week 1 holds January 1.
//! A pattern is parsed once ([`Pattern::parse`]) and formatted per object.

use jiff::civil::Weekday;
use jiff::Zoned;

/// One piece of a parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(char, usize),
}

/// A parsed `DateTimeFormatter` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Piece>);

/// The largest letter count `ofPattern` accepts for each letter (`None` = letter not supported).
fn max_count(letter: char) -> Option<usize> {
    Some(match letter {
        'G' => 5,
        'u' | 'y' | 'Y' => 19,
        'D' => 3,
        'M' | 'L' | 'Q' | 'q' => 5,
        'd' | 'w' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' => 2,
        'W' | 'F' => 1,
        'E' => 5,
        'e' | 'c' => 5,
        'a' => 1,
        'S' => 9,
        'A' | 'n' | 'N' => 19,
        'V' => 2,
        'z' => 4,
        'O' => 4,
        'X' | 'x' => 5,
        'Z' => 5,
        _ => return None,
    })
}

impl Pattern {
    /// Parses a pattern; Err = the reason `ofPattern` would throw `IllegalArgumentException`.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut depth = 0usize;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_alphabetic() {
                let mut n = 1;
                while i + n < chars.len() && chars[i + n] == c {
                    n += 1;
                }
                let max = max_count(c).ok_or_else(|| format!("Unknown pattern letter: {c}"))?;
                // `ofPattern` rejects these counts specifically.
                let bad = n > max
                    || (c == 'V' && n != 2)
                    || (c == 'O' && n != 1 && n != 4)
                    || (c == 'c' && n == 2);
                if bad {
                    return Err(format!("Too many pattern letters: {c}"));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Field(c, n));
                i += n;
            } else if c == '\'' {
                // Quoted literal; '' inside or outside quotes is one quote.
                i += 1;
                if i < chars.len() && chars[i] == '\'' {
                    literal.push('\'');
                    i += 1;
                    continue;
                }
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "Pattern ends with an incomplete string literal: {pattern}"
                            ))
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            literal.push(other);
                            i += 1;
                        }
                    }
                }
            } else if c == '[' {
                depth += 1;
                i += 1;
            } else if c == ']' {
                if depth == 0 {
                    return Err(format!(
                        "Pattern invalid as it contains ] without previous [: {pattern}"
                    ));
                }
                depth -= 1;
                i += 1;
            } else if c == '{' || c == '}' || c == '#' {
                return Err(format!("Pattern includes reserved character: '{c}'"));
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Pattern(pieces))
    }

    /// Formats `time` with this pattern.
    pub fn format(&self, time: &Zoned) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Field(c, n) => field(&mut out, *c, *n, time),
            }
        }
        out
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Text style by letter count: 1–3 short, 4 full, 5 narrow.
fn text(out: &mut String, full: &str, n: usize) {
    match n {
        4 => out.push_str(full),
        5 => out.extend(full.chars().take(1)),
        _ => out.extend(full.chars().take(3)),
    }
}

/// US week fields: (week-based-year, week-of-week-based-year), weeks start on Sunday and week 1
/// is the week that contains January 1.
fn us_week(time: &Zoned) -> (i64, i64) {
    let date = time.date();
    let sunday_offset = i64::from(date.weekday().to_sunday_zero_offset());
    let doy = i64::from(date.day_of_year());
    let days_in_year = i64::from(date.days_in_year());
    // The week's Saturday falls in the next year: this is week 1 of that year.
    if doy - sunday_offset + 6 > days_in_year {
        return (i64::from(date.year()) + 1, 1);
    }
    let jan1_offset = (sunday_offset - (doy - 1)).rem_euclid(7);
    (i64::from(date.year()), (doy - 1 + jan1_offset) / 7 + 1)
}

fn offset_text(
    out: &mut String,
    seconds: i32,
    colon: bool,
    with_minutes: bool,
    zero: Option<&str>,
) {
    if seconds == 0 {
        if let Some(z) = zero {
            out.push_str(z);
            return;
        }
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    out.push(sign);
    out.push_str(&format!("{h:02}"));
    if with_minutes || m != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{m:02}"));
    }
    if s != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{s:02}"));
    }
}

fn field(out: &mut String, c: char, n: usize, t: &Zoned) {
    let year = i64::from(t.year());
    match c {
        'G' => out.push_str(match (n, year > 0) {
            (4, true) => "Anno Domini",
            (4, false) => "Before Christ",
            (5, true) => "A",
            (5, false) => "B",
            (_, true) => "AD",
            (_, false) => "BC",
        }),
        'u' | 'y' | 'Y' => {
            let y = match c {
                'Y' => us_week(t).0,
                'y' if year <= 0 => 1 - year,
                _ => year,
            };
            if n == 2 {
                pad(out, y.rem_euclid(100), 2);
            } else {
                pad(out, y, n);
            }
        }
        'D' => pad(out, i64::from(t.day_of_year()), n),
        'M' | 'L' => match n {
            1 | 2 => pad(out, i64::from(t.month()), n),
            _ => text(out, MONTHS[(t.month() - 1) as usize], n),
        },
        'Q' | 'q' => {
            let q = (t.month() - 1) / 3 + 1;
            match n {
                1 | 2 => pad(out, i64::from(q), n),
                3 => out.push_str(&format!("Q{q}")),
                4 => out.push_str(
                    ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][(q - 1) as usize],
                ),
                _ => out.push_str(&q.to_string()),
            }
        }
        'd' => pad(out, i64::from(t.day()), n),
        'w' => pad(out, us_week(t).1, n),
        'W' => {
            let first = t.date().first_of_month().weekday().to_sunday_zero_offset();
            pad(out, (i64::from(t.day()) - 1 + i64::from(first)) / 7 + 1, n);
        }
        'F' => pad(out, (i64::from(t.day()) - 1) / 7 + 1, n),
        'E' => text(out, DAYS[weekday_index(t.weekday())], n),
        'e' | 'c' => match n {
            1 | 2 => pad(out, i64::from(t.weekday().to_sunday_one_offset()), n),
            _ => text(out, DAYS[weekday_index(t.weekday())], n),
        },
        'a' => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
        'h' => pad(out, i64::from((t.hour() + 11) % 12 + 1), n),
        'K' => pad(out, i64::from(t.hour() % 12), n),
        'k' => pad(out, i64::from(if t.hour() == 0 { 24 } else { t.hour() }), n),
        'H' => pad(out, i64::from(t.hour()), n),
        'm' => pad(out, i64::from(t.minute()), n),
        's' => pad(out, i64::from(t.second()), n),
        'S' => {
            let nanos = format!("{:09}", t.subsec_nanosecond());
            out.push_str(&nanos[..n.min(9)]);
        }
        'A' => pad(out, nano_of_day(t) / 1_000_000, n),
        'n' => pad(out, i64::from(t.subsec_nanosecond()), n),
        'N' => pad(out, nano_of_day(t), n),
        'V' => out.push_str(t.time_zone().iana_name().unwrap_or("UTC")),
        'z' => {
            let info = t.time_zone().to_offset_info(t.timestamp());
            out.push_str(info.abbreviation());
        }
        'O' => {
            let secs = t.offset().seconds();
            out.push_str("GMT");
            if secs != 0 {
                if n == 4 {
                    offset_text(out, secs, true, true, None);
                } else {
                    let abs = secs.unsigned_abs();
                    out.push(if secs < 0 { '-' } else { '+' });
                    out.push_str(&(abs / 3600).to_string());
                    if !(abs / 60).is_multiple_of(60) {
                        out.push_str(&format!(":{:02}", abs / 60 % 60));
                    }
                }
            }
        }
        'X' | 'x' => {
            let secs = t.offset().seconds();
            let zero = if c == 'X' { Some("Z") } else { None };
            match n {
                1 => offset_text(out, secs, false, false, zero),
                2 | 4 => offset_text(out, secs - secs % 60 * i32::from(n == 2), false, true, zero),
                _ => offset_text(out, secs, true, true, zero),
            }
        }
        'Z' => {
            let secs = t.offset().seconds();
            match n {
                4 => {
                    out.push_str("GMT");
                    if secs != 0 {
                        offset_text(out, secs, true, true, None);
                    }
                }
                5 => offset_text(out, secs, true, true, Some("Z")),
                _ => offset_text(out, secs, false, true, None),
            }
        }
        _ => {}
    }
}

fn weekday_index(w: Weekday) -> usize {
    (w.to_monday_one_offset() - 1) as usize
}

fn nano_of_day(t: &Zoned) -> i64 {
    (i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second()))
        * 1_000_000_000
        + i64::from(t.subsec_nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn at(ms: i64, tz: &str) -> Zoned {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
    }

    fn fmt(p: &str, ms: i64, tz: &str) -> String {
        Pattern::parse(p).unwrap().format(&at(ms, tz))
    }

    // 2018-08-27T10:30:05.123Z, a Monday.
    const T: i64 = 1_535_365_805_123;

    #[test]
    fn numeric_fields() {
        assert_eq!(fmt("yyyy/MM/dd/HH/", T, "UTC"), "2018/08/27/10/");
        assert_eq!(fmt("yy-M-d H:m:s", T, "UTC"), "18-8-27 10:30:5");
        assert_eq!(fmt("uuuu DDD D", T, "UTC"), "2018 239 239");
        assert_eq!(fmt("hh a KK kk", T, "UTC"), "10 AM 10 10");
        assert_eq!(fmt("SSS S SSSSSS", T, "UTC"), "123 1 123000");
        assert_eq!(fmt("A", T, "UTC"), "37805123");
        assert_eq!(fmt("Q QQQ QQQQ", T, "UTC"), "3 Q3 3rd quarter");
    }

    #[test]
    fn text_fields() {
        assert_eq!(fmt("MMM MMMM MMMMM", T, "UTC"), "Aug August A");
        assert_eq!(fmt("E EEEE EEEEE", T, "UTC"), "Mon Monday M");
        assert_eq!(fmt("G", T, "UTC"), "AD");
        assert_eq!(fmt("e", T, "UTC"), "2");
    }

    #[test]
    fn quoted_literals() {
        assert_eq!(
            fmt("'year='yyyy'/month='MM", T, "UTC"),
            "year=2018/month=08"
        );
        assert_eq!(fmt("yyyy''MM", T, "UTC"), "2018'08");
        assert_eq!(fmt("'it''s' yyyy", T, "UTC"), "it's 2018");
        assert_eq!(fmt("yyyy[-MM]", T, "UTC"), "2018-08");
        assert!(Pattern::parse("'open").is_err());
    }

    #[test]
    fn zones_and_offsets() {
        assert_eq!(fmt("yyyy-MM-dd HH", T, "Asia/Tokyo"), "2018-08-27 19");
        assert_eq!(fmt("Z", T, "Asia/Tokyo"), "+0900");
        assert_eq!(fmt("XXX", T, "Asia/Tokyo"), "+09:00");
        assert_eq!(fmt("X", T, "UTC"), "Z");
        assert_eq!(fmt("x", T, "UTC"), "+00");
        assert_eq!(fmt("ZZZZ", T, "UTC"), "GMT");
        assert_eq!(fmt("O", T, "Asia/Kolkata"), "GMT+5:30");
        assert_eq!(fmt("VV", T, "Asia/Tokyo"), "Asia/Tokyo");
        assert_eq!(fmt("z", T, "Asia/Tokyo"), "JST");
    }

    #[test]
    fn us_weeks() {
        // 2021-01-01 is a Friday: week 1 of 2021; 2020-12-27 (Sunday) starts that week too.
        let jan1 = 1_609_459_200_000;
        assert_eq!(fmt("YYYY w", jan1, "UTC"), "2021 1");
        assert_eq!(fmt("YYYY w", jan1 - 5 * 86_400_000, "UTC"), "2021 1");
        assert_eq!(fmt("YYYY w", jan1 - 6 * 86_400_000, "UTC"), "2020 52");
        assert_eq!(fmt("yyyy ww", T, "UTC"), "2018 35");
    }

    #[test]
    fn rejects_what_of_pattern_rejects() {
        assert!(Pattern::parse("yyyy{").is_err());
        assert!(Pattern::parse("ddd").is_err());
        assert!(Pattern::parse("HHH").is_err());
        assert!(Pattern::parse("b").is_err());
        assert!(Pattern::parse("]").is_err());
    }
}
