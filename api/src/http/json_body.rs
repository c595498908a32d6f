//! The JSON request body extractor.
//!
//! poem-openapi's `Json<T>` stops at the first bad field and answers with a
//! plain-text 400. `JsonBody<T>` instead reads the body itself (64 KiB at
//! most), checks the media type, and lets `T` validate every field, so a
//! client learns about all of its mistakes in one 422. The OpenAPI schema
//! still comes from `T`'s `Object` derive.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, Registry};
use poem_openapi::types::{MaybeUndefined, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::limits;
use super::problem::FieldError;

/// A request body type: its schema for the document, and how to read it.
pub trait FromJsonBody: Sized {
    /// The documented shape of the body.
    type Schema: Type;

    /// Whether the operation needs a body at all.
    const REQUIRED: bool = true;

    /// The largest body read; a larger one is a 413.
    const MAX_BODY_KIB: usize = limits::MAX_BODY_KIB;

    /// The most JSON values (array elements and object members) the body
    /// may hold, counted before it is parsed: a parsed value takes up to
    /// 16 times the bytes of its text (`0,` becomes a 32-byte value), so a
    /// body allowed to be large must not be made of tiny values. More is a
    /// 422. `None`: not counted; within the general body limit the parsed
    /// body stays small anyway, and no other body pays for the scan.
    const MAX_JSON_VALUES: Option<usize> = None;

    /// `None` when the request has no body.
    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>>;

    /// Adds to the documented schema what the `Object` derive cannot say,
    /// so validators and fuzzers know every rule `from_json` enforces.
    fn refine_schema(_schema: &mut MetaSchema) {}

    /// The same for the schemas `Schema` refers to, by name.
    fn refine_referenced(_name: &str, _schema: &mut MetaSchema) {}
}

pub struct JsonBody<T>(pub T);

impl<'a, T: FromJsonBody> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::Schema::register(registry);
        if let Some(schema) = registry.schemas.get_mut(&*T::Schema::name()) {
            T::refine_schema(schema);
        }
        for (name, schema) in &mut registry.schemas {
            T::refine_referenced(name, schema);
        }
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::Schema::schema_ref(),
            }],
            required: T::REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let is_json = request.content_type().is_some_and(is_json_media_type);
        let bytes = body
            .take()?
            .into_bytes_limit(T::MAX_BODY_KIB * 1024)
            .await
            .map_err(|err| match err {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    ApiError::BodyTooLarge(T::MAX_BODY_KIB).into()
                }
                other => poem::Error::from(other),
            })?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else if !is_json {
            return Err(poem_openapi::error::ContentTypeError::NotSupported {
                content_type: request.content_type().unwrap_or_default().to_owned(),
            }
            .into());
        } else {
            if let Some(most) = T::MAX_JSON_VALUES
                && count_values(&bytes) > most
            {
                let message =
                    format!("holds more than {most} JSON values; unknown fields count too");
                return Err(ApiError::invalid("body", message).into());
            }
            let value = serde_json::from_slice(&bytes)
                .map_err(|err| ApiError::invalid("body", format!("malformed JSON: {err}")))?;
            Some(value)
        };
        T::from_json(value)
            .map(JsonBody)
            .map_err(|errors| ApiError::Validation(errors).into())
    }
}

/// About how many values the JSON text holds: its commas, brackets and
/// braces outside strings, in one pass without parsing.
fn count_values(text: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b',' | b'[' | b'{' => count += 1,
                _ => {}
            }
        }
    }
    count
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// How a field appears in a JSON object.
enum FieldValue<T> {
    Absent,
    Null,
    Present(T),
    /// Present with the wrong type; the error is already recorded.
    Invalid,
}

/// Reads typed fields out of a JSON object, collecting every error.
pub struct ObjectReader {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl ObjectReader {
    /// The body must be a JSON object; a missing body reads as `{}`.
    pub fn new(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        match body {
            None => Ok(Self::from_map(Map::new())),
            Some(Value::Object(fields)) => Ok(Self::from_map(fields)),
            Some(_) => Err(vec![FieldError::new(
                "body",
                "the body must be a JSON object",
            )]),
        }
    }

    fn from_map(fields: Map<String, Value>) -> Self {
        Self {
            fields,
            errors: Vec::new(),
        }
    }

    /// A field that may be absent but not `null` (`null_message` says so).
    pub fn optional<T: FromJsonField>(&mut self, field: &str, null_message: &str) -> Option<T> {
        match self.field(field) {
            FieldValue::Present(value) => Some(value),
            FieldValue::Null => {
                self.reject(field, null_message);
                None
            }
            FieldValue::Absent | FieldValue::Invalid => None,
        }
    }

    /// A field that must be present and not `null`.
    pub fn required<T: FromJsonField>(&mut self, field: &str, null_message: &str) -> Option<T> {
        if !self.fields.contains_key(field) {
            self.reject(field, "is required");
            return None;
        }
        self.optional(field, null_message)
    }

    /// A field where `null` means "clear it" and absent "keep it".
    pub fn nullable<T: FromJsonField>(&mut self, field: &str) -> MaybeUndefined<T> {
        match self.field(field) {
            FieldValue::Present(value) => MaybeUndefined::Value(value),
            FieldValue::Null => MaybeUndefined::Null,
            FieldValue::Absent | FieldValue::Invalid => MaybeUndefined::Undefined,
        }
    }

    /// Removes `field` and reads it as a `T`; a value of the wrong kind is
    /// recorded as an error and read as [`FieldValue::Invalid`].
    fn field<T: FromJsonField>(&mut self, field: &str) -> FieldValue<T> {
        match self.fields.remove(field) {
            None => FieldValue::Absent,
            Some(Value::Null) => FieldValue::Null,
            Some(value) => match T::from_json_field(value) {
                Ok(value) => FieldValue::Present(value),
                Err(message) => {
                    self.reject(field, message);
                    FieldValue::Invalid
                }
            },
        }
    }

    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether every field read so far was valid.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `value` if every field was valid, else all the errors. A reader
    /// gives `None` only for a field it has already reported.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

/// A type a body field can hold: how to read it from a non-null JSON value.
pub trait FromJsonField: Sized {
    /// The value, or a message saying what is expected.
    fn from_json_field(value: Value) -> Result<Self, String>;
}

impl FromJsonField for String {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(text),
            _ => Err("must be a string".to_owned()),
        }
    }
}

impl FromJsonField for bool {
    fn from_json_field(value: Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| "must be true or false".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::{count_values, is_json_media_type};

    #[test]
    fn values_are_counted_outside_strings_only() {
        assert_eq!(count_values(br#"{"a": [1, 2, 3], "b": "x,[{\",y"}"#), 5);
        assert_eq!(count_values(b"[]"), 1);
        assert_eq!(count_values(br#""\\""#), 0);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/jsonx"));
        assert!(!is_json_media_type("multipart/form-data; boundary=x"));
    }
}
