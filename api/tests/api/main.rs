//! Integration tests: the real service, over HTTP, on a fresh database each.

mod helpers;

mod auth;
mod binary;
mod cors;
mod health;
mod isolation;
mod key_set;
mod listing;
mod openapi;
mod schema;
mod tasks;
mod validation;
