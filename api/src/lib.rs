//! The Todo API service: a poem-openapi application over SeaORM.

pub mod auth;
pub mod configuration;
pub mod cors;
pub mod health;
pub mod json_body;
pub mod me;
pub mod nullable;
pub mod operation_error;
pub mod problem;
mod scalar_type;
pub mod startup;
pub mod tags;
pub mod tasks;
pub mod telemetry;
pub mod timestamp;
