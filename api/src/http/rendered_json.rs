//! A JSON response body rendered to text with serde, documented as `T`.
//!
//! poem-openapi's `Json<T>` turns `T` into a `serde_json::Value` tree (a map
//! insert per field) before writing it; rendering with serde writes the text
//! directly, which is most of the cost of a list response. And a remembered
//! response (an `Idempotency-Key` retry) must be answered byte for byte as it
//! was first sent, while `T` may not be readable back from its own JSON
//! (read-only fields refuse to parse): so the body is kept as the text it was
//! rendered to, and sent as is. `T`'s serde output must be what its `ToJSON`
//! writes; each such type has a test that says so.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

pub struct RenderedJson<T> {
    body: String,
    of: PhantomData<fn() -> T>,
}

impl<T: serde::Serialize> RenderedJson<T> {
    /// `value` rendered as JSON text.
    pub fn render(value: &T) -> Self {
        Self::from_rendered(serde_json::to_string(value).unwrap_or_default())
    }
}

impl<T> RenderedJson<T> {
    /// A body rendered earlier by [`RenderedJson::render`].
    pub fn from_rendered(body: String) -> Self {
        Self {
            body,
            of: PhantomData,
        }
    }

    /// The body as sent, to be remembered and replayed.
    pub fn as_str(&self) -> &str {
        &self.body
    }
}

impl<T: Type> Payload for RenderedJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for RenderedJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(<Json<serde_json::Value> as Payload>::CONTENT_TYPE)
            .body(self.body)
    }
}
