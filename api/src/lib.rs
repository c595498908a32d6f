//! The Todo API service: a poem-openapi application over SeaORM.
//!
//! The process: `startup` (build, then run), `server` (connections and
//! their limits), `telemetry`, `preflight` (`api check`), `openapi` (the
//! document and Swagger UI). The resources: `tasks`, `me`, `changes` (live
//! sync), `health`, and beside them `sweeper` (purging what has expired, in
//! the background), `fair_share` and `rate_limit`; `idempotent` (writes
//! made at most once per `Idempotency-Key`) serves the routes that take one. Below them: `change_log`
//! (numbered changes and the per-user write lock), `auth` (identity from the
//! bearer token), `database`, `metrics` (Prometheus), `http` (plumbing and
//! wire types), and on the ground floor `configuration`, `deadline` and
//! `route_table`. Each layer imports only the ones below it;
//! `ARCHITECTURE.md` at the workspace root has the map, the layers and the
//! invariants.

pub mod auth;
pub mod batch;
pub mod change_log;
pub mod changes;
pub mod configuration;
pub mod database;
pub mod deadline;
pub mod fair_share;
pub mod health;
pub mod http;
pub mod idempotent;
pub mod mcp;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod preflight;
pub mod rate_limit;
pub mod reminders;
pub mod route_table;
pub mod server;
pub mod startup;
pub mod sweeper;
pub mod tags;
pub mod tasks;
pub mod telemetry;
