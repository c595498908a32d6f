//! The test runner: every test is a `libtest_mimic::Trial` that runs its
//! async body on a tokio current-thread runtime of its own.
//!
//! Each module lists its tests in a `tests()` function, which `main` calls;
//! registering a test is adding its name to one of these lists:
//!
//! ```ignore
//! pub fn tests() -> Vec<Trial> {
//!     crate::harness::all([
//!         // `async fn(TestApp)`: `module::sqlite::name`, `module::postgres::name`
//!         crate::both_backends![a_test_taking_a_test_app, another],
//!         // `async fn(TestApp)` on one backend: `module::postgres::name`
//!         crate::postgres_only![needs_a_real_server],
//!         // `async fn()`: `module::name`; it starts what it needs itself
//!         crate::standalone![builds_its_own_app],
//!     ])
//! }
//! ```
//!
//! Without `TEST_DATABASE_URL` the PostgreSQL trials are reported as ignored
//! (and counted in one line at the end); in CI they fail instead.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use libtest_mimic::{Failed, Trial};

use crate::helpers::{Backend, TestApp, TestDatabase, fresh_database, spawn_app};

/// What a backend test receives: started on the backend it runs on.
pub trait Fixture: Sized {
    fn start(backend: Backend) -> impl Future<Output = Self>;
}

impl Fixture for TestApp {
    async fn start(backend: Backend) -> Self {
        spawn_app(backend).await
    }
}

/// An empty, unmigrated database, for tests of the migrations themselves.
impl Fixture for TestDatabase {
    async fn start(backend: Backend) -> Self {
        fresh_database(backend).await
    }
}

/// Where the PostgreSQL trials stand in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Postgres {
    /// `TEST_DATABASE_URL` is set: they run.
    Configured,
    /// Not set, locally: they are ignored.
    Skipped,
    /// Not set, but `CI` is: they fail, since skipping would hide a gap.
    Missing,
}

pub fn postgres() -> Postgres {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|value| !value.is_empty()) {
        Postgres::Configured
    } else if in_ci() {
        Postgres::Missing
    } else {
        Postgres::Skipped
    }
}

/// `CI` is set (and not `false`): what a test needs must be there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false")
}

/// `tasks` for the test module `api::tasks`.
pub fn module_name(module_path: &str) -> &str {
    module_path
        .split_once("::")
        .map_or(module_path, |(_, rest)| rest)
}

thread_local! {
    /// Set while this thread runs a trial's body.
    static IN_TRIAL: Cell<bool> = const { Cell::new(false) };
    /// The last panic of the trial on this thread: where, what, and the
    /// backtrace when `RUST_BACKTRACE` asks for one.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Trials run two at a time and nothing captures their output, so a panic
/// inside one is kept for its failure report instead of being printed as it
/// happens, interleaved with the other trial's.
fn keep_trial_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_TRIAL.get() {
                return default(info);
            }
            let backtrace = Backtrace::capture();
            let mut report = info.to_string();
            if backtrace.status() == BacktraceStatus::Captured {
                report.push_str(&format!("\n{backtrace}"));
            }
            PANIC.set(Some(report));
        }));
    });
}

/// Runs `body` on a current-thread runtime of its own, as `#[tokio::test]`
/// did. A panic fails the trial, reported with where it happened.
fn block_on<Fut: Future<Output = ()>>(body: impl FnOnce() -> Fut) -> Result<(), Failed> {
    keep_trial_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    IN_TRIAL.set(true);
    PANIC.set(None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(body())));
    IN_TRIAL.set(false);
    outcome.map_err(|_| PANIC.take().unwrap_or_else(|| "panicked".to_owned()).into())
}

/// A test that sets itself up: `module::test`.
pub fn standalone<F, Fut>(module_path: &str, test: &str, body: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let name = format!("{}::{test}", module_name(module_path));
    Trial::test(name, move || block_on(body))
}

/// A test given a fixture on `backend`: `module::sqlite::test` or
/// `module::postgres::test`.
pub fn on_backend<T, F, Fut>(module_path: &str, test: &str, backend: Backend, body: F) -> Trial
where
    T: Fixture,
    F: FnOnce(T) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let name = format!("{}::{}::{test}", module_name(module_path), backend.name());
    let run = move || block_on(|| async move { body(T::start(backend).await).await });
    match (backend, postgres()) {
        (Backend::Sqlite, _) | (Backend::Postgres, Postgres::Configured) => Trial::test(name, run),
        // Run anyway with `--include-ignored`: say why it cannot.
        (Backend::Postgres, Postgres::Skipped) => Trial::test(name, || {
            Err("TEST_DATABASE_URL is not set: this PostgreSQL test cannot run".into())
        })
        .with_ignored_flag(true),
        (Backend::Postgres, Postgres::Missing) => Trial::test(name, || {
            Err(
                "CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests must run in CI \
                 (set TEST_DATABASE_URL=postgres://USER@HOST:5432/DB)"
                    .into(),
            )
        }),
    }
}

/// Each listed `async fn(TestApp)` (or other [`Fixture`]) as a test on
/// `Backend::$backend`.
#[macro_export]
macro_rules! on {
    ($backend:ident: $($test:ident),* $(,)?) => {
        vec![$($crate::harness::on_backend(
            module_path!(), stringify!($test), $crate::helpers::Backend::$backend, $test,
        ),)*]
    };
}

/// Each listed `async fn(TestApp)` (or other [`Fixture`]) as a test on
/// SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        $crate::harness::all([
            $crate::on!(Sqlite: $($test),*),
            $crate::on!(Postgres: $($test),*),
        ])
    };
}

/// Each listed `async fn(TestApp)` (or other [`Fixture`]) as a test on SQLite.
#[macro_export]
macro_rules! sqlite_only {
    ($($test:ident),* $(,)?) => { $crate::on!(Sqlite: $($test),*) };
}

/// Each listed `async fn(TestApp)` (or other [`Fixture`]) as a test on
/// PostgreSQL: what SQLite cannot show.
#[macro_export]
macro_rules! postgres_only {
    ($($test:ident),* $(,)?) => { $crate::on!(Postgres: $($test),*) };
}

/// Each listed `async fn()` as a test: it starts whatever it needs itself.
#[macro_export]
macro_rules! standalone {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::harness::standalone(module_path!(), stringify!($test), $test),)*]
    };
}

/// The trials of several groups, in order.
pub fn all<const N: usize>(groups: [Vec<Trial>; N]) -> Vec<Trial> {
    groups.into_iter().flatten().collect()
}
