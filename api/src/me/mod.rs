//! `/api/me`: the caller as the token names them, and erasing their account.
//!
//! `routes` holds the handlers; `repository` every SQL statement on `users`,
//! including the owner row every task write records.

pub(crate) mod repository;
mod routes;

pub use routes::{Me, MeApi};
