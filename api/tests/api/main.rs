//! Integration tests: the real service, over HTTP, on a fresh database each.
//!
//! A custom harness (`harness = false`, see [`harness`]) so that PostgreSQL
//! tests that cannot run are reported as ignored rather than as passed.

use std::process::ExitCode;

use libtest_mimic::Arguments;

mod harness;
mod helpers;

mod auth;
mod batch;
mod binary;
mod check;
mod concurrency;
mod connections;
mod cors;
mod document;
mod errors;
mod fairness;
mod health;
mod http_rules;
mod isolation;
mod key_set;
mod layers;
mod listing;
mod live;
mod logging;
mod mcp;
mod metrics;
mod openapi;
mod organize;
mod outage;
mod pgbouncer;
mod pooling;
mod quotas;
mod rate_limit;
mod recurrence;
mod reminders;
mod schema;
mod static_key_set;
mod storage;
mod sweeper;
mod tasks;
mod users;
mod validation;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = harness::all([
        auth::tests(),
        batch::tests(),
        binary::tests(),
        check::tests(),
        concurrency::tests(),
        connections::tests(),
        cors::tests(),
        document::tests(),
        errors::tests(),
        fairness::tests(),
        health::tests(),
        http_rules::tests(),
        isolation::tests(),
        key_set::tests(),
        layers::tests(),
        listing::tests(),
        live::tests(),
        logging::tests(),
        mcp::tests(),
        metrics::tests(),
        openapi::tests(),
        organize::tests(),
        outage::tests(),
        pooling::tests(),
        quotas::tests(),
        rate_limit::tests(),
        recurrence::tests(),
        reminders::tests(),
        schema::tests(),
        storage::tests(),
        sweeper::tests(),
        tasks::tests(),
        users::tests(),
        validation::tests(),
    ]);

    let skipped = if harness::postgres() == harness::Postgres::Skipped
        && !(args.list || args.ignored || args.include_ignored)
    {
        trials
            .iter()
            .filter(|trial| trial.has_ignored_flag() && !args.is_filtered_out(trial))
            .count()
    } else {
        0
    };
    let conclusion = libtest_mimic::run(&args, trials);
    if skipped > 0 {
        // On stderr, so that `--format json` output on stdout stays clean.
        eprintln!(
            "skipped {skipped} PostgreSQL tests: set TEST_DATABASE_URL=postgres://USER@HOST:5432/DB to run them"
        );
    }
    conclusion.exit_code()
}
