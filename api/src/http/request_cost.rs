//! What one request costs against the rate limit. Most cost one; a batch
//! costs one per operation, which only its handler knows once the body is
//! read. The rate limit charges one as the request arrives and leaves a
//! [`RequestCost`] in the request's data, through which the handler
//! charges the rest.

use std::sync::Arc;

use super::error::ApiError;

/// Charges a caller's quota.
pub trait Meter: Send + Sync {
    /// Takes `units` more from the caller's quota, or refuses (a 429,
    /// nothing taken) when they do not fit.
    fn charge(&self, units: u32) -> Result<(), ApiError>;
}

/// The rest of a request's cost, charged by its handler.
#[derive(Clone)]
pub struct RequestCost(Option<Arc<dyn Meter>>);

impl RequestCost {
    /// Where no rate limit is set: every charge passes.
    pub fn unmetered() -> Self {
        Self(None)
    }

    pub fn metered(meter: Arc<dyn Meter>) -> Self {
        Self(Some(meter))
    }

    /// The request costs `units` in all: charges what the one taken on
    /// arrival does not cover.
    pub fn total(&self, units: u32) -> Result<(), ApiError> {
        match (&self.0, units.saturating_sub(1)) {
            (Some(meter), more) if more > 0 => meter.charge(more),
            _ => Ok(()),
        }
    }
}
