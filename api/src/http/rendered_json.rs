//! A JSON response body rendered ahead of time and documented as `T`.
//!
//! A remembered response (an `Idempotency-Key` retry) must be answered byte
//! for byte as it was first sent, and `T` may not be readable back from its
//! own JSON (read-only fields refuse to parse). So the body is kept as the
//! text it was rendered to, and sent as is.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

pub struct RenderedJson<T> {
    body: String,
    of: PhantomData<fn() -> T>,
}

impl<T: ToJSON> RenderedJson<T> {
    /// `value` rendered exactly as poem-openapi's `Json<T>` would send it.
    pub fn render(value: &T) -> Self {
        Self::from_rendered(value.to_json().unwrap_or_default().to_string())
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
    pub fn into_string(self) -> String {
        self.body
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
