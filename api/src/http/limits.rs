//! The sizes a request may reach, which the readers enforce and the error
//! messages quote.

/// The largest request head (request line and headers) served, as the
/// contract sets it; bigger heads are a 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The largest body read; a larger one is a 413.
pub const MAX_BODY_KIB: usize = 64;

/// The largest batch body (`POST /api/batch`): 100 operations with every
/// field at its limit and every character written as the longest JSON
/// escape (a `\uXXXX\uXXXX` pair: 12 bytes) take under 3 MiB; a test in
/// `batch` holds the two together.
pub const MAX_BATCH_BODY_KIB: usize = 3 * 1024;
