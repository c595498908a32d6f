//! Schema migrations, built from the entities in the `entity` crate.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_users_and_tasks;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261121_000001_create_users_and_tasks::Migration)]
    }
}
