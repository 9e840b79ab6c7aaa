//! Hive column type strings, as Glue stores them (`string`, `decimal(10,2)`,
//! `array<struct<a:int,b:map<string,bigint>>>`), parsed into a tree and mapped onto Arrow types.
//!
//! The grammar is Hive's: keywords are case-insensitive, whitespace between tokens is ignored,
//! struct field names may be back-quoted. `decimal` without arguments is `decimal(10,0)`, as in
//! Hive; `char(n)` and `varchar(n)` are strings. `uniontype` is refused: neither Firehose nor
//! Arrow's writers handle it.

#[cfg(feature = "convert")]
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use std::fmt;
#[cfg(feature = "convert")]
use std::sync::Arc;

/// Hive's largest decimal precision (and Arrow's Decimal128's).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiveType {
    String,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Boolean,
    Decimal { precision: u8, scale: i8 },
    Timestamp,
    Date,
    Binary,
    Array(Box<HiveType>),
    Map(Box<HiveType>, Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
}

impl HiveType {
    /// Parses a whole type string; Err names what was wrong and where.
    pub fn parse(text: &str) -> Result<HiveType, String> {
        let mut p = Parser { src: text, pos: 0 };
        let t = p.parse_type()?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(format!(
                "unexpected '{}' at position {} of type '{text}'",
                &text[p.pos..],
                p.pos
            ));
        }
        Ok(t)
    }

    /// Whether the type holds other types (array, map, struct).
    pub fn is_nested(&self) -> bool {
        matches!(
            self,
            HiveType::Array(_) | HiveType::Map(..) | HiveType::Struct(_)
        )
    }

    #[cfg(feature = "convert")]
    /// The Arrow type the converter builds for this Hive type. Timestamps are microseconds
    /// without a time zone (Hive's `timestamp` has none), which Athena, Spark and DuckDB read.
    pub fn arrow(&self) -> DataType {
        match self {
            HiveType::String => DataType::Utf8,
            HiveType::TinyInt => DataType::Int8,
            HiveType::SmallInt => DataType::Int16,
            HiveType::Int => DataType::Int32,
            HiveType::BigInt => DataType::Int64,
            HiveType::Float => DataType::Float32,
            HiveType::Double => DataType::Float64,
            HiveType::Boolean => DataType::Boolean,
            HiveType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            HiveType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            HiveType::Date => DataType::Date32,
            HiveType::Binary => DataType::Binary,
            HiveType::Array(item) => {
                DataType::List(Arc::new(Field::new("item", item.arrow(), true)))
            }
            HiveType::Map(k, v) => {
                let entries = Fields::from(vec![
                    Field::new("key", k.arrow(), false),
                    Field::new("value", v.arrow(), true),
                ]);
                DataType::Map(
                    Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                    false,
                )
            }
            HiveType::Struct(fields) => DataType::Struct(Fields::from(
                fields
                    .iter()
                    .map(|(n, t)| Field::new(n, t.arrow(), true))
                    .collect::<Vec<_>>(),
            )),
        }
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::String => f.write_str("string"),
            HiveType::TinyInt => f.write_str("tinyint"),
            HiveType::SmallInt => f.write_str("smallint"),
            HiveType::Int => f.write_str("int"),
            HiveType::BigInt => f.write_str("bigint"),
            HiveType::Float => f.write_str("float"),
            HiveType::Double => f.write_str("double"),
            HiveType::Boolean => f.write_str("boolean"),
            HiveType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            HiveType::Timestamp => f.write_str("timestamp"),
            HiveType::Date => f.write_str("date"),
            HiveType::Binary => f.write_str("binary"),
            HiveType::Array(t) => write!(f, "array<{t}>"),
            HiveType::Map(k, v) => write!(f, "map<{k},{v}>"),
            HiveType::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{n}:{t}")?;
                }
                f.write_str(">")
            }
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.src[self.pos..].chars().next()
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        match self.peek() {
            Some(c) if c == want => {
                self.pos += c.len_utf8();
                Ok(())
            }
            Some(c) => Err(format!(
                "expected '{want}' but found '{c}' at position {} of type '{}'",
                self.pos, self.src
            )),
            None => Err(format!(
                "expected '{want}' at the end of type '{}'",
                self.src
            )),
        }
    }

    /// A keyword or field name: letters, digits, underscores.
    fn word(&mut self) -> Result<&'a str, String> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Err(match self.src[start..].chars().next() {
                Some(c) => format!(
                    "expected a type name but found '{c}' at position {start} of type '{}'",
                    self.src
                ),
                None => format!("expected a type name at the end of type '{}'", self.src),
            });
        }
        Ok(&self.src[start..self.pos])
    }

    fn number(&mut self) -> Result<u32, String> {
        self.skip_ws();
        let start = self.pos;
        while self.src[self.pos..].starts_with(|c: char| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.src[start..self.pos].parse().map_err(|_| {
            format!(
                "expected a number at position {start} of type '{}'",
                self.src
            )
        })
    }

    fn field_name(&mut self) -> Result<String, String> {
        if self.peek() == Some('`') {
            self.pos += 1;
            let rest = &self.src[self.pos..];
            let end = rest
                .find('`')
                .ok_or_else(|| format!("unterminated '`' in type '{}'", self.src))?;
            let name = rest[..end].to_string();
            self.pos += end + 1;
            return Ok(name);
        }
        Ok(self.word()?.to_string())
    }

    fn parse_type(&mut self) -> Result<HiveType, String> {
        let word = self.word()?.to_ascii_lowercase();
        Ok(match word.as_str() {
            "string" => HiveType::String,
            "char" | "varchar" => {
                // The length is part of the type but not of what is stored.
                if self.peek() == Some('(') {
                    self.expect('(')?;
                    self.number()?;
                    self.expect(')')?;
                }
                HiveType::String
            }
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => HiveType::Double,
            "boolean" => HiveType::Boolean,
            "timestamp" => HiveType::Timestamp,
            "date" => HiveType::Date,
            "binary" => HiveType::Binary,
            "decimal" | "numeric" => {
                let (mut precision, mut scale) = (10, 0);
                if self.peek() == Some('(') {
                    self.expect('(')?;
                    precision = self.number()?;
                    scale = 0;
                    if self.peek() == Some(',') {
                        self.expect(',')?;
                        scale = self.number()?;
                    }
                    self.expect(')')?;
                }
                if precision == 0 || precision > u32::from(MAX_DECIMAL_PRECISION) {
                    return Err(format!(
                        "decimal precision {precision} is outside 1..={MAX_DECIMAL_PRECISION} in type '{}'",
                        self.src
                    ));
                }
                if scale > precision {
                    return Err(format!(
                        "decimal scale {scale} is larger than its precision {precision} in type '{}'",
                        self.src
                    ));
                }
                HiveType::Decimal {
                    precision: precision as u8,
                    scale: scale as i8,
                }
            }
            "array" => {
                self.expect('<')?;
                let item = self.parse_type()?;
                self.expect('>')?;
                HiveType::Array(Box::new(item))
            }
            "map" => {
                self.expect('<')?;
                let k = self.parse_type()?;
                if k.is_nested() {
                    return Err(format!(
                        "map keys must be of a primitive type, not '{k}', in type '{}'",
                        self.src
                    ));
                }
                self.expect(',')?;
                let v = self.parse_type()?;
                self.expect('>')?;
                HiveType::Map(Box::new(k), Box::new(v))
            }
            "struct" => {
                self.expect('<')?;
                let mut fields: Vec<(String, HiveType)> = Vec::new();
                if self.peek() != Some('>') {
                    loop {
                        let name = self.field_name()?;
                        self.expect(':')?;
                        let t = self.parse_type()?;
                        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                            return Err(format!(
                                "duplicate struct field '{name}' in type '{}'",
                                self.src
                            ));
                        }
                        fields.push((name, t));
                        if self.peek() == Some(',') {
                            self.expect(',')?;
                            continue;
                        }
                        break;
                    }
                }
                self.expect('>')?;
                HiveType::Struct(fields)
            }
            "uniontype" => {
                return Err(format!(
                    "uniontype is not supported for format conversion (type '{}')",
                    self.src
                ))
            }
            other => return Err(format!("unknown type '{other}' in type '{}'", self.src)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_and_aliases() {
        for (s, t) in [
            ("string", HiveType::String),
            ("STRING", HiveType::String),
            ("varchar(20)", HiveType::String),
            ("char(3)", HiveType::String),
            ("int", HiveType::Int),
            ("integer", HiveType::Int),
            ("bigint", HiveType::BigInt),
            ("smallint", HiveType::SmallInt),
            ("tinyint", HiveType::TinyInt),
            ("double", HiveType::Double),
            ("float", HiveType::Float),
            ("boolean", HiveType::Boolean),
            ("timestamp", HiveType::Timestamp),
            ("date", HiveType::Date),
            ("binary", HiveType::Binary),
            (
                "decimal",
                HiveType::Decimal {
                    precision: 10,
                    scale: 0,
                },
            ),
            (
                " decimal ( 12 , 3 ) ",
                HiveType::Decimal {
                    precision: 12,
                    scale: 3,
                },
            ),
        ] {
            assert_eq!(HiveType::parse(s).unwrap(), t, "{s}");
        }
    }

    #[test]
    fn nested() {
        let t = HiveType::parse("array<struct<a:int, `b c`:map<string,array<bigint>>>>").unwrap();
        assert_eq!(
            t,
            HiveType::Array(Box::new(HiveType::Struct(vec![
                ("a".into(), HiveType::Int),
                (
                    "b c".into(),
                    HiveType::Map(
                        Box::new(HiveType::String),
                        Box::new(HiveType::Array(Box::new(HiveType::BigInt)))
                    )
                ),
            ])))
        );
        assert_eq!(
            t.to_string(),
            "array<struct<a:int,b c:map<string,array<bigint>>>>"
        );
        #[cfg(feature = "convert")]
        assert!(matches!(t.arrow(), DataType::List(_)));
    }

    #[test]
    fn errors_name_the_problem() {
        for (s, want) in [
            ("strin", "unknown type 'strin'"),
            ("array<int", "expected '>'"),
            (
                "map<array<int>,int>",
                "map keys must be of a primitive type",
            ),
            ("decimal(40,2)", "outside 1..=38"),
            ("decimal(5,6)", "larger than its precision"),
            ("struct<a:int,a:int>", "duplicate struct field"),
            ("int extra", "unexpected 'extra'"),
            ("", "expected a type name"),
            ("uniontype<int,string>", "uniontype is not supported"),
        ] {
            let e = HiveType::parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}
