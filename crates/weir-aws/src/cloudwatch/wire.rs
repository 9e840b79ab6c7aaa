//! The three CloudWatch wire protocols, reduced to one input tree and one output tree.
//!
//! Requests in Smithy RPC v2 CBOR, awsJson1.0 and awsQuery are each parsed into a
//! `serde_json::Value` (CBOR tag-1 timestamps become epoch-second numbers, awsQuery's
//! `A.member.1.B=v` pairs become nested lists and objects of strings), which [`Input`] reads
//! leniently: a number may arrive as a string and a timestamp as a number or ISO 8601. Answers
//! are built once as a [`Doc`] and written as CBOR, JSON or awsQuery XML. Operations therefore
//! never see a protocol.

use super::time;
use super::CwError;
use serde_json::{Map, Value};

/// Which protocol a request came in; answers use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /service/GraniteServiceVersion20100801/operation/<Op>`, `smithy-protocol: rpc-v2-cbor`.
    RpcV2Cbor,
    /// `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, `application/x-amz-json-1.0`.
    AwsJson10,
    /// Form-encoded `Action=<Op>&...`, answered in XML.
    AwsQuery,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::RpcV2Cbor => "application/cbor",
            Protocol::AwsJson10 => "application/x-amz-json-1.0",
            Protocol::AwsQuery => "text/xml",
        }
    }
}

/// Parses a request body into the input tree.
pub fn decode(protocol: Protocol, body: &[u8]) -> Result<Value, CwError> {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    match protocol {
        Protocol::RpcV2Cbor if body.is_empty() => Ok(Value::Object(Map::new())),
        Protocol::RpcV2Cbor => {
            let v: ciborium::Value = ciborium::from_reader(body)
                .map_err(|_| CwError::serialization("The request body is not valid CBOR."))?;
            let v = from_cbor(v);
            if v.is_object() {
                Ok(v)
            } else {
                Err(CwError::serialization(
                    "The request body must be a CBOR map.",
                ))
            }
        }
        Protocol::AwsJson10 if empty => Ok(Value::Object(Map::new())),
        Protocol::AwsJson10 => match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(CwError::serialization(
                "The request body is not a JSON object.",
            )),
        },
        Protocol::AwsQuery => Ok(from_query(body)),
    }
}

fn from_cbor(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Integer(i) => {
            let i = i128::from(i);
            i64::try_from(i)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(i as f64))
        }
        C::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => Value::String(base64_simd::STANDARD.encode_to_string(b)),
        C::Bool(b) => Value::Bool(b),
        C::Null => Value::Null,
        // Tag 1 (epoch seconds) and any other tag: the tagged value.
        C::Tag(_, inner) => from_cbor(*inner),
        C::Array(a) => Value::Array(a.into_iter().map(from_cbor).collect()),
        C::Map(m) => Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, from_cbor(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Form/query decoding: `+` is a space, `%XX` a byte; anything malformed is kept as written.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The form parameters of an awsQuery body, in order.
pub fn query_params(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Builds the input tree from `Key.member.N.Sub=value` pairs.
fn from_query(body: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (k, v) in query_params(body) {
        if k == "Action" || k == "Version" {
            continue;
        }
        let parts: Vec<&str> = k.split('.').collect();
        insert(&mut root, &parts, v);
    }
    root
}

fn insert(node: &mut Value, path: &[&str], v: String) {
    let Some((first, rest)) = path.split_first() else {
        *node = Value::String(v);
        return;
    };
    if *first == "member" {
        if let Some((idx, rest)) = rest.split_first() {
            if let Ok(i) = idx.parse::<usize>() {
                if !node.is_array() {
                    *node = Value::Array(Vec::new());
                }
                if let Value::Array(a) = node {
                    if (1..=1000).contains(&i) {
                        if a.len() < i {
                            a.resize(i, Value::Null);
                        }
                        insert(&mut a[i - 1], rest, v);
                    }
                }
                return;
            }
        }
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(m) = node {
        insert(m.entry(first.to_string()).or_insert(Value::Null), rest, v);
    }
}

/// awsQuery spells an empty list as the bare key (`Dimensions=`), which the tree holds as an
/// empty string.
fn is_empty_query_list(v: &Value) -> bool {
    v.as_str() == Some("")
}

/// Lenient, path-aware reads of an input tree; errors name the parameter as AWS does.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Input<'a> {
    pub fn root(v: &'a Value) -> Self {
        Self {
            map: v.as_object(),
            path: String::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, CwError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(CwError::invalid_value(format!(
                "The parameter {} must be a string.",
                self.name(key)
            ))),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, CwError> {
        self.str(key)?
            .ok_or_else(|| CwError::missing(&self.name(key)))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, CwError> {
        let bad = || {
            CwError::invalid_value(format!(
                "The parameter {} must be an integer.",
                self.name(key)
            ))
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, CwError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(CwError::invalid_value(format!(
                "The parameter {} must be a boolean.",
                self.name(key)
            ))),
        }
    }

    /// A timestamp in epoch milliseconds.
    pub fn time(&self, key: &str) -> Result<Option<i64>, CwError> {
        let bad = || {
            CwError::invalid_value(format!(
                "The parameter {} must be a timestamp (ISO 8601 or epoch seconds).",
                self.name(key)
            ))
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(|s| Some((s * 1000.0).round() as i64))
                .ok_or_else(bad),
            Some(Value::String(s)) => time::parse(s).map(Some).ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    pub fn required_time(&self, key: &str) -> Result<i64, CwError> {
        self.time(key)?
            .ok_or_else(|| CwError::missing(&self.name(key)))
    }

    pub fn object(&self, key: &str) -> Result<Option<Input<'a>>, CwError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Input {
                map: Some(m),
                path: self.name(key),
            })),
            Some(_) => Err(CwError::invalid_value(format!(
                "The parameter {} must be a structure.",
                self.name(key)
            ))),
        }
    }

    /// A list of structures; each element's path is `Key.member.N` as awsQuery spells it.
    pub fn list(&self, key: &str) -> Result<Vec<Input<'a>>, CwError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) if is_empty_query_list(v) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .filter(|v| !v.is_null())
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(m) => Ok(Input {
                        map: Some(m),
                        path: format!("{}.member.{}", self.name(key), i + 1),
                    }),
                    _ => Err(CwError::invalid_value(format!(
                        "The parameter {}.member.{} must be a structure.",
                        self.name(key),
                        i + 1
                    ))),
                })
                .collect(),
            Some(_) => Err(CwError::invalid_value(format!(
                "The parameter {} must be a list.",
                self.name(key)
            ))),
        }
    }

    pub fn str_list(&self, key: &str) -> Result<Vec<&'a str>, CwError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) if is_empty_query_list(v) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| {
                    v.as_str().ok_or_else(|| {
                        CwError::invalid_value(format!(
                            "The parameter {} must be a list of strings.",
                            self.name(key)
                        ))
                    })
                })
                .collect(),
            Some(_) => Err(CwError::invalid_value(format!(
                "The parameter {} must be a list.",
                self.name(key)
            ))),
        }
    }

    /// This structure's own parameter path (`MetricDataQueries.member.1`).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// An answer, independent of protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Str(String),
    Num(f64),
    Int(i64),
    /// Epoch milliseconds.
    Time(i64),
    List(Vec<Doc>),
    /// A structure: members in order.
    Struct(Vec<(&'static str, Doc)>),
    /// A map shape (`ExtendedStatistics`): awsQuery writes it as `entry`/`key`/`value`.
    Map(Vec<(String, Doc)>),
}

impl Doc {
    fn to_cbor(&self) -> ciborium::Value {
        use ciborium::Value as C;
        match self {
            Doc::Str(s) => C::Text(s.clone()),
            Doc::Num(f) => C::Float(*f),
            Doc::Int(i) => C::Integer((*i).into()),
            Doc::Time(ms) => C::Tag(
                1,
                Box::new(if ms % 1000 == 0 {
                    C::Integer((ms / 1000).into())
                } else {
                    C::Float(*ms as f64 / 1000.0)
                }),
            ),
            Doc::List(l) => C::Array(l.iter().map(Doc::to_cbor).collect()),
            Doc::Struct(m) => C::Map(
                m.iter()
                    .map(|(k, v)| (C::Text(k.to_string()), v.to_cbor()))
                    .collect(),
            ),
            Doc::Map(m) => C::Map(
                m.iter()
                    .map(|(k, v)| (C::Text(k.clone()), v.to_cbor()))
                    .collect(),
            ),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Doc::Str(s) => Value::String(s.clone()),
            Doc::Num(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Doc::Int(i) => Value::from(*i),
            Doc::Time(ms) if ms % 1000 == 0 => Value::from(ms / 1000),
            Doc::Time(ms) => Value::from(*ms as f64 / 1000.0),
            Doc::List(l) => Value::Array(l.iter().map(Doc::to_json).collect()),
            Doc::Struct(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Doc::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    fn write_xml(&self, out: &mut String) {
        match self {
            Doc::Str(s) => xml_text(out, s),
            Doc::Num(f) => out.push_str(&f.to_string()),
            Doc::Int(i) => out.push_str(&i.to_string()),
            Doc::Time(ms) => out.push_str(&time::format(*ms)),
            Doc::List(l) => {
                for v in l {
                    out.push_str("<member>");
                    v.write_xml(out);
                    out.push_str("</member>");
                }
            }
            Doc::Struct(m) => {
                for (k, v) in m {
                    out.push('<');
                    out.push_str(k);
                    out.push('>');
                    v.write_xml(out);
                    out.push_str("</");
                    out.push_str(k);
                    out.push('>');
                }
            }
            Doc::Map(m) => {
                for (k, v) in m {
                    out.push_str("<entry><key>");
                    xml_text(out, k);
                    out.push_str("</key><value>");
                    v.write_xml(out);
                    out.push_str("</value></entry>");
                }
            }
        }
    }
}

pub fn xml_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

pub const XML_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// Encodes an operation's answer.
pub fn encode(protocol: Protocol, op: &str, doc: &Doc, request_id: &str) -> Vec<u8> {
    match protocol {
        Protocol::RpcV2Cbor => {
            let mut out = Vec::new();
            if ciborium::into_writer(&doc.to_cbor(), &mut out).is_err() {
                out = vec![0xa0];
            }
            out
        }
        Protocol::AwsJson10 => serde_json::to_vec(&doc.to_json()).unwrap_or_else(|_| b"{}".into()),
        Protocol::AwsQuery => {
            let mut s = format!("<{op}Response xmlns=\"{XML_NAMESPACE}\"><{op}Result>");
            doc.write_xml(&mut s);
            s.push_str(&format!(
                "</{op}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>\n"
            ));
            s.into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_become_nested_lists_and_structures() {
        let body = b"Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FKinesis\
&Dimensions.member.1.Name=StreamName&Dimensions.member.1.Value=my+stream\
&Statistics.member.2=Sum&Statistics.member.1=Average&Period=60\
&StartTime=2026-01-01T00%3A00%3A00Z";
        let v = decode(Protocol::AwsQuery, body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Namespace": "AWS/Kinesis",
                "Dimensions": [{"Name": "StreamName", "Value": "my stream"}],
                "Statistics": ["Average", "Sum"],
                "Period": "60",
                "StartTime": "2026-01-01T00:00:00Z",
            })
        );
        let i = Input::root(&v);
        assert_eq!(i.int("Period").unwrap(), Some(60));
        assert_eq!(i.required_time("StartTime").unwrap(), 1_767_225_600_000);
        assert_eq!(i.str_list("Statistics").unwrap(), vec!["Average", "Sum"]);
        let dims = i.list("Dimensions").unwrap();
        assert_eq!(dims[0].path(), "Dimensions.member.1");
        assert_eq!(dims[0].required_str("Value").unwrap(), "my stream");
        let e = dims[0].required_str("Nope").unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert!(
            e.message.contains("Dimensions.member.1.Nope"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_empty_query_list_is_the_bare_key() {
        // What botocore sends for `Dimensions=[]` (Lambda's account-wide metrics).
        let v = decode(Protocol::AwsQuery, b"Dimensions=&Statistics=").unwrap();
        let i = Input::root(&v);
        assert!(i.list("Dimensions").unwrap().is_empty());
        assert!(i.str_list("Statistics").unwrap().is_empty());
        let v = decode(Protocol::AwsQuery, b"Dimensions=x").unwrap();
        assert!(Input::root(&v).list("Dimensions").is_err());
    }

    #[test]
    fn cbor_timestamps_are_epoch_seconds() {
        use ciborium::Value as C;
        let req = C::Map(vec![
            (
                C::Text("StartTime".into()),
                C::Tag(1, Box::new(C::Float(1.5))),
            ),
            (
                C::Text("EndTime".into()),
                C::Tag(1, Box::new(C::Integer(2.into()))),
            ),
            (C::Text("Period".into()), C::Integer(60.into())),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&req, &mut body).unwrap();
        let v = decode(Protocol::RpcV2Cbor, &body).unwrap();
        let i = Input::root(&v);
        assert_eq!(i.required_time("StartTime").unwrap(), 1500);
        assert_eq!(i.required_time("EndTime").unwrap(), 2000);
        assert_eq!(i.int("Period").unwrap(), Some(60));
        assert!(decode(Protocol::RpcV2Cbor, b"\xff").is_err());
        assert_eq!(
            decode(Protocol::RpcV2Cbor, b"").unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn one_doc_three_encodings() {
        let doc = Doc::Struct(vec![
            ("Label", Doc::Str("IncomingRecords".into())),
            (
                "Datapoints",
                Doc::List(vec![Doc::Struct(vec![
                    ("Timestamp", Doc::Time(1_767_225_600_000)),
                    ("Sum", Doc::Num(10.0)),
                    (
                        "ExtendedStatistics",
                        Doc::Map(vec![("p99".into(), Doc::Num(1.5))]),
                    ),
                ])]),
            ),
        ]);
        let json: Value =
            serde_json::from_slice(&encode(Protocol::AwsJson10, "X", &doc, "id")).unwrap();
        assert_eq!(json["Datapoints"][0]["Timestamp"], 1_767_225_600i64);
        assert_eq!(json["Datapoints"][0]["ExtendedStatistics"]["p99"], 1.5);
        let cbor: ciborium::Value =
            ciborium::from_reader(&encode(Protocol::RpcV2Cbor, "X", &doc, "id")[..]).unwrap();
        let text = format!("{cbor:?}");
        assert!(
            text.contains("Tag(1, Integer(Integer(1767225600)))"),
            "{text}"
        );
        let xml = String::from_utf8(encode(
            Protocol::AwsQuery,
            "GetMetricStatistics",
            &doc,
            "r1",
        ))
        .unwrap();
        assert!(xml.starts_with("<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricStatisticsResult><Label>IncomingRecords</Label><Datapoints><member><Timestamp>2026-01-01T00:00:00Z</Timestamp><Sum>10</Sum><ExtendedStatistics><entry><key>p99</key><value>1.5</value></entry></ExtendedStatistics></member></Datapoints>"), "{xml}");
        assert!(xml.contains("<RequestId>r1</RequestId>"));
    }
}
