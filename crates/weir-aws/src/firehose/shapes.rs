//! Model constraints of the Firehose shapes weir serves, checked with AWS's wording.
//!
//! Destination configurations arrive as JSON objects in AWS's field names and are kept that way
//! (see `weir_delivery::model`), so the checks walk a `serde_json::Value`: [`Check`] carries the
//! member path (`extendedS3DestinationConfiguration.bufferingHints.sizeInMBs`, lowerCamel as
//! AWS prints it) and collects violations; a member of the wrong JSON type is a
//! SerializationException, as Coral answers it.

use crate::error::ApiError;
use crate::validate::Violations;
use serde_json::Value;

pub const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
pub const ROLE_ARN_PATTERN: &str = "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+";
pub const BUCKET_ARN_PATTERN: &str = "arn:.*:s3:::[\\w\\.\\-]{1,255}";
pub const KINESIS_ARN_PATTERN: &str =
    "arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+";
pub const KMS_ARN_PATTERN: &str =
    "arn:.*:kms:[a-zA-Z0-9\\-]+:\\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\\-_/]+";

pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn digits12(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+`
pub fn is_role_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    rest.match_indices(":iam::").any(|(i, _)| {
        let after = &rest[i + 6..];
        after.len() > 18
            && digits12(&after[..12])
            && after[12..].starts_with(":role/")
            && after[18..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
    })
}

/// `arn:.*:s3:::[\w\.\-]{1,255}`
pub fn is_bucket_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    rest.match_indices(":s3:::").any(|(i, _)| {
        let b = &rest[i + 6..];
        (1..=255).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    })
}

/// `arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+`
pub fn is_kinesis_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    rest.match_indices(":kinesis:").any(|(i, _)| {
        let mut parts = rest[i + 9..].splitn(2, ':');
        let region = parts.next().unwrap_or("");
        let tail = parts.next().unwrap_or("");
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && tail.len() > 19
            && digits12(&tail[..12])
            && tail[12..].starts_with(":stream/")
            && is_name(&tail[20..])
    })
}

pub fn is_kms_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":kms:") && (s.contains(":key/") || s.contains(":alias/"))
}

/// AWS's member path spelling: the model's PascalCase member with its first letter lowered.
pub fn camel(member: &str) -> String {
    let mut c = member.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn type_error(found: &Value, target: &str) -> ApiError {
    let msg = match found {
        Value::Object(_) => "Start of structure or map found where not expected.".to_string(),
        Value::Array(_) => "Start of list found where not expected".to_string(),
        Value::Bool(_) => format!("class java.lang.Boolean can not be converted to {target}"),
        Value::Number(_) => format!(
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to {target}"
        ),
        Value::String(_) => format!("class java.lang.String can not be converted to {target}"),
        Value::Null => String::new(),
    };
    ApiError::serialization(msg)
}

/// A pattern check and the pattern as AWS prints it.
pub type Pattern = (fn(&str) -> bool, &'static str);

/// A walk over one JSON structure with its AWS member path.
pub struct Check<'a> {
    pub v: &'a mut Violations,
    pub path: String,
}

impl<'a> Check<'a> {
    pub fn new(v: &'a mut Violations, path: &str) -> Self {
        Self {
            v,
            path: path.to_string(),
        }
    }

    fn at(&self, member: &str) -> String {
        if self.path.is_empty() {
            camel(member)
        } else {
            format!("{}.{}", self.path, camel(member))
        }
    }

    /// The object itself must be a structure.
    pub fn object(value: &Value) -> Result<(), ApiError> {
        match value {
            Value::Object(_) | Value::Null => Ok(()),
            other => Err(type_error(other, "a structure")),
        }
    }

    pub fn string<'v>(
        &mut self,
        obj: &'v Value,
        member: &str,
        required: bool,
        min: usize,
        max: usize,
        pattern: Option<Pattern>,
    ) -> Result<Option<&'v str>, ApiError> {
        let path = self.at(member);
        match obj.get(member) {
            None | Some(Value::Null) => {
                if required {
                    self.v.required::<()>(&path, &None);
                }
                Ok(None)
            }
            Some(Value::String(s)) => {
                if let Some((ok, p)) = pattern {
                    self.v.pattern(&path, s, ok(s), p);
                }
                self.v.str_len(&path, s, min, max);
                Ok(Some(s.as_str()))
            }
            Some(other) => Err(type_error(other, "an String")),
        }
    }

    pub fn enumeration<'v>(
        &mut self,
        obj: &'v Value,
        member: &str,
        required: bool,
        set: &[&str],
    ) -> Result<Option<&'v str>, ApiError> {
        let path = self.at(member);
        let s = self.string(obj, member, required, 0, usize::MAX, None)?;
        if let Some(s) = s {
            self.v.one_of(&path, s, set);
        }
        Ok(s)
    }

    pub fn int(
        &mut self,
        obj: &Value,
        member: &str,
        required: bool,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ApiError> {
        let path = self.at(member);
        match obj.get(member) {
            None | Some(Value::Null) => {
                if required {
                    self.v.required::<()>(&path, &None);
                }
                Ok(None)
            }
            Some(Value::Number(n)) => {
                let i = n
                    .as_i64()
                    .or_else(|| n.as_f64().map(|f| f as i64))
                    .unwrap_or(i64::MAX);
                self.v.range_i64(&path, i, min, max);
                Ok(Some(i))
            }
            Some(Value::String(_)) => Err(ApiError::serialization(
                "class java.lang.String can not be converted to an Integer",
            )),
            Some(other) => Err(type_error(other, "an Integer")),
        }
    }

    pub fn boolean(&mut self, obj: &Value, member: &str) -> Result<Option<bool>, ApiError> {
        match obj.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(_)) => Err(ApiError::serialization(
                "class java.lang.String can not be converted to an Boolean",
            )),
            Some(other) => Err(type_error(other, "an Boolean")),
        }
    }

    /// A nested structure: Ok(Some(checker for it)) when present.
    pub fn nested<'v>(
        &mut self,
        obj: &'v Value,
        member: &str,
        required: bool,
    ) -> Result<Option<(&'v Value, String)>, ApiError> {
        let path = self.at(member);
        match obj.get(member) {
            None | Some(Value::Null) => {
                if required {
                    self.v.required::<()>(&path, &None);
                }
                Ok(None)
            }
            Some(v @ Value::Object(_)) => Ok(Some((v, path))),
            Some(other) => Err(type_error(other, "a structure")),
        }
    }

    pub fn child(&mut self, path: String) -> Check<'_> {
        Check { v: self.v, path }
    }
}

fn buffering(c: &mut Check, obj: &Value, max_size: i64) -> Result<(), ApiError> {
    if let Some((b, path)) = c.nested(obj, "BufferingHints", false)? {
        let mut c = c.child(path);
        c.int(b, "SizeInMBs", false, 1, max_size)?;
        c.int(b, "IntervalInSeconds", false, 0, 900)?;
    }
    Ok(())
}

fn encryption(c: &mut Check, obj: &Value) -> Result<(), ApiError> {
    if let Some((e, path)) = c.nested(obj, "EncryptionConfiguration", false)? {
        let mut c = c.child(path);
        c.enumeration(e, "NoEncryptionConfig", false, &["NoEncryption"])?;
        if let Some((k, path)) = c.nested(e, "KMSEncryptionConfig", false)? {
            c.child(path).string(
                k,
                "AWSKMSKeyARN",
                true,
                1,
                512,
                Some((is_kms_arn, KMS_ARN_PATTERN)),
            )?;
        }
    }
    Ok(())
}

const COMPRESSION: &[&str] = &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

fn processing(c: &mut Check, obj: &Value) -> Result<(), ApiError> {
    if let Some((p, path)) = c.nested(obj, "ProcessingConfiguration", false)? {
        let mut c = c.child(path);
        c.boolean(p, "Enabled")?;
        match p.get("Processors") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, proc_) in list.iter().enumerate() {
                    Check::object(proc_)?;
                    let mut pc = c.child(format!("{}.processors.{}.member", c.path, i + 1));
                    pc.enumeration(
                        proc_,
                        "Type",
                        true,
                        &[
                            "RecordDeAggregation",
                            "Decompression",
                            "CloudWatchLogProcessing",
                            "Lambda",
                            "MetadataExtraction",
                            "AppendDelimiterToRecord",
                        ],
                    )?;
                    if let Some(Value::Array(params)) = proc_.get("Parameters") {
                        for (j, param) in params.iter().enumerate() {
                            Check::object(param)?;
                            let mut qc =
                                pc.child(format!("{}.parameters.{}.member", pc.path, j + 1));
                            qc.enumeration(
                                param,
                                "ParameterName",
                                true,
                                &[
                                    "LambdaArn",
                                    "NumberOfRetries",
                                    "MetadataExtractionQuery",
                                    "JsonParsingEngine",
                                    "RoleArn",
                                    "BufferSizeInMBs",
                                    "BufferIntervalInSeconds",
                                    "SubRecordType",
                                    "Delimiter",
                                    "CompressionFormat",
                                    "DataMessageExtraction",
                                ],
                            )?;
                            qc.string(param, "ParameterValue", true, 1, 5120, None)?;
                        }
                    }
                }
            }
            Some(other) => return Err(type_error(other, "a list")),
        }
    }
    Ok(())
}

/// S3DestinationConfiguration (also S3BackupConfiguration and S3Configuration).
pub fn s3_configuration(c: &mut Check, obj: &Value, update: bool) -> Result<(), ApiError> {
    c.string(
        obj,
        "RoleARN",
        !update,
        1,
        512,
        Some((is_role_arn, ROLE_ARN_PATTERN)),
    )?;
    c.string(
        obj,
        "BucketARN",
        !update,
        1,
        2048,
        Some((is_bucket_arn, BUCKET_ARN_PATTERN)),
    )?;
    c.string(obj, "Prefix", false, 0, 1024, None)?;
    c.string(obj, "ErrorOutputPrefix", false, 0, 1024, None)?;
    buffering(c, obj, 128)?;
    c.enumeration(obj, "CompressionFormat", false, COMPRESSION)?;
    encryption(c, obj)?;
    Ok(())
}

fn file_extension_ok(s: &str) -> bool {
    s.is_empty()
        || (s.starts_with('.')
            && s.len() > 1
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b"!-_.*'()".contains(&b)))
}

fn time_zone_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphabetic() || b == b'/' || b == b'_')
}

/// ExtendedS3DestinationConfiguration / ExtendedS3DestinationUpdate.
pub fn extended_s3(c: &mut Check, obj: &Value, update: bool) -> Result<(), ApiError> {
    s3_configuration(c, obj, update)?;
    processing(c, obj)?;
    c.enumeration(obj, "S3BackupMode", false, &["Disabled", "Enabled"])?;
    let backup = if update {
        "S3BackupUpdate"
    } else {
        "S3BackupConfiguration"
    };
    if let Some((b, path)) = c.nested(obj, backup, false)? {
        s3_configuration(&mut c.child(path), b, update)?;
    }
    c.nested(obj, "DataFormatConversionConfiguration", false)?;
    if let Some((d, path)) = c.nested(obj, "DynamicPartitioningConfiguration", false)? {
        let mut c = c.child(path);
        c.boolean(d, "Enabled")?;
        if let Some((r, path)) = c.nested(d, "RetryOptions", false)? {
            c.child(path).int(r, "DurationInSeconds", false, 0, 7200)?;
        }
    }
    c.string(
        obj,
        "FileExtension",
        false,
        0,
        128,
        Some((file_extension_ok, "^$|\\.[0-9a-z!\\-_.*'()]+")),
    )?;
    c.string(
        obj,
        "CustomTimeZone",
        false,
        0,
        50,
        Some((time_zone_ok, "^$|[a-zA-Z/_]+")),
    )?;
    Ok(())
}

fn https(s: &str) -> bool {
    s.starts_with("https://")
}

/// HttpEndpointDestinationConfiguration / HttpEndpointDestinationUpdate.
pub fn http_endpoint(c: &mut Check, obj: &Value, update: bool) -> Result<(), ApiError> {
    if let Some((e, path)) = c.nested(obj, "EndpointConfiguration", !update)? {
        let mut c = c.child(path);
        c.string(e, "Url", true, 1, 1000, Some((https, "https://.*")))?;
        c.string(e, "Name", false, 1, 256, None)?;
        c.string(e, "AccessKey", false, 0, 4096, None)?;
    }
    buffering(c, obj, 64)?;
    if let Some((r, path)) = c.nested(obj, "RequestConfiguration", false)? {
        let mut c = c.child(path);
        c.enumeration(r, "ContentEncoding", false, &["NONE", "GZIP"])?;
    }
    processing(c, obj)?;
    c.string(
        obj,
        "RoleARN",
        false,
        1,
        512,
        Some((is_role_arn, ROLE_ARN_PATTERN)),
    )?;
    if let Some((r, path)) = c.nested(obj, "RetryOptions", false)? {
        c.child(path).int(r, "DurationInSeconds", false, 0, 7200)?;
    }
    c.enumeration(obj, "S3BackupMode", false, &["FailedDataOnly", "AllData"])?;
    let s3 = if update {
        "S3Update"
    } else {
        "S3Configuration"
    };
    if let Some((s, path)) = c.nested(obj, s3, !update)? {
        s3_configuration(&mut c.child(path), s, update)?;
    }
    Ok(())
}

/// The tag list of CreateDeliveryStream / TagDeliveryStream.
pub fn tags(v: &mut Violations, path: &str, tags: &[TagIn], min: usize) {
    v.list_len(path, tags.len(), min, 50, &format!("{} tags", tags.len()));
    for (i, t) in tags.iter().enumerate() {
        let p = format!("{path}.{}.member", i + 1);
        if v.required(&format!("{p}.key"), &t.key) {
            v.str_len(&format!("{p}.key"), t.key.as_deref().unwrap_or(""), 1, 128);
        }
        if let Some(val) = &t.value {
            v.str_len(&format!("{p}.value"), val, 0, 256);
        }
    }
}

#[derive(Debug, serde::Deserialize, serde::Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// DeliveryStreamName as every operation checks it.
pub fn delivery_stream_name(v: &mut Violations, name: &Option<String>) {
    if v.required("deliveryStreamName", name) {
        let n = name.as_deref().unwrap_or("");
        v.pattern("deliveryStreamName", n, is_name(n), NAME_PATTERN);
        v.str_len("deliveryStreamName", n, 1, 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_shapes() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/firehose_role"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/x"));
        assert!(is_bucket_arn("arn:aws:s3:::my-bucket.logs"));
        assert!(!is_bucket_arn("arn:aws:s3:::"));
        assert!(is_kinesis_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/src"
        ));
        assert!(!is_kinesis_arn(
            "arn:aws:kinesis:us-east-1:000000000000:table/src"
        ));
        assert_eq!(camel("S3BackupMode"), "s3BackupMode");
        assert_eq!(camel("RoleARN"), "roleARN");
    }
}
