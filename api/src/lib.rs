//! The Todo API service: a poem-openapi application over SeaORM.
//!
//! The process: `startup` (build, then run), `configuration`, `database`, `telemetry`,
//! `metrics` (Prometheus), `preflight` (`api check`),
//! `openapi` (the document and Swagger UI), `server` (connections and
//! their limits), `sweeper` (purging what has expired, in the background).
//! The layers under it: `http`
//! (plumbing and wire types), `auth` (identity from the bearer token), and
//! one module per resource: `tasks`, `me`, `health`, over what they share:
//! `changes` (the change log) and `idempotent` (writes made at most once
//! per `Idempotency-Key`). `ARCHITECTURE.md` at
//! the workspace root has the map and the invariants.

pub mod auth;
pub mod changes;
pub mod configuration;
pub mod database;
pub mod deadline;
pub mod fair_share;
pub mod health;
pub mod http;
pub mod idempotent;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod preflight;
pub mod server;
pub mod startup;
pub mod sweeper;
pub mod tasks;
pub mod telemetry;
