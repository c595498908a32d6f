//! The sizes a request may reach, which the readers enforce and the error
//! messages quote.

/// The largest request head (request line and headers) served, as the
/// contract sets it; bigger heads are a 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The largest body read; a larger one is a 413.
pub const MAX_BODY_KIB: usize = 64;
