//! `/api/me`: the caller as the token names them, and erasing their account.
//!
//! `routes` holds the handlers; `repository` erasure, in steps, through the
//! change log (which owns the `users` row every write takes).

mod repository;
mod routes;

pub use repository::erase;
pub use routes::{Me, MeApi};
