//! poem-openapi reads a header parameter only when its value is visible
//! ASCII, and otherwise acts as if the header were absent: an `If-Match`
//! of other bytes would let a write through unconditionally, and such an
//! `Idempotency-Key` would silently protect nothing. Those headers are
//! refused instead, with the 422 any other bad value of theirs gets.

use poem::{Endpoint, Request};

use super::error::ApiError;
use super::idempotency::HEADER as IDEMPOTENCY_KEY;
use super::problem::FieldError;

/// The request headers whose meaning changes what a request does, by the
/// names the document gives them.
const READ_HEADERS: [&str; 3] = [IDEMPOTENCY_KEY, "If-Match", "If-None-Match"];

pub async fn refuse_unreadable_headers<E: Endpoint>(
    next: E,
    req: Request,
) -> poem::Result<E::Output> {
    for name in READ_HEADERS {
        if req
            .headers()
            .get_all(name)
            .iter()
            .any(|value| value.to_str().is_err())
        {
            let error = FieldError::new(name, "must be visible ASCII characters");
            return Err(ApiError::InvalidParameter(error).into());
        }
    }
    next.call(req).await
}
