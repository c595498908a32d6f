//! SeaORM entities: the single source of truth for the database schema.
//!
//! The migration crate builds tables, foreign keys and indexes from these
//! definitions, so a column or index is declared here and nowhere else.

pub mod idempotency_key;
pub mod reminder;
pub mod tag;
pub mod task;
pub mod task_tag;
pub mod task_tombstone;
pub mod user;

pub mod prelude {
    pub use super::idempotency_key::Entity as IdempotencyKey;
    pub use super::reminder::Entity as Reminder;
    pub use super::tag::Entity as Tag;
    pub use super::task::Entity as Task;
    pub use super::task_tag::Entity as TaskTag;
    pub use super::task_tombstone::Entity as TaskTombstone;
    pub use super::user::Entity as User;
}
