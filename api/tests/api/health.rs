//! Probes, and 503 while the database is gone.

use libtest_mimic::Trial;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![probes_answer_without_a_token],
        crate::postgres_only![database_outage_is_503_and_the_service_recovers],
    ])
}

async fn probes_answer_without_a_token(app: TestApp) {
    assert_eq!(app.live().await.status(), 200);
    assert_eq!(app.ready().await.status(), 200);
}

/// PostgreSQL only: the database can be taken away from under the service.
async fn database_outage_is_503_and_the_service_recovers(app: TestApp) {
    let task = app.create_task("alice", json!({"title": "survives"})).await;
    // Several connections in the pool, each of which the outage kills.
    futures_util::future::join_all((0..8).map(|_| app.list("alice", ""))).await;
    let name = url::Url::parse(&app.database.url).unwrap().path()[1..].to_owned();
    let server = std::env::var("TEST_DATABASE_URL").unwrap();
    let admin = Database::connect(&server).await.unwrap();
    let rename = |from: &str, to: &str| format!(r#"ALTER DATABASE "{from}" RENAME TO "{to}""#);
    let hidden = format!("{name}_away");
    app.db.close_by_ref().await.ok();

    // Renaming the database cuts the service off without losing data. The
    // service reconnects at once (its change listener, say), so the rename
    // may need another go.
    let mut attempts = 0;
    loop {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        match admin.execute_unprepared(&rename(&name, &hidden)).await {
            Ok(_) => break,
            Err(err) if attempts < 20 => {
                attempts += 1;
                tracing::debug!(%err, "renaming again");
            }
            Err(err) => panic!("cannot take the database away: {err}"),
        }
    }

    assert_problem(app.ready().await, 503).await;
    assert_problem(app.try_list("alice", "").await, 503).await;
    assert_eq!(app.live().await.status(), 200, "the process keeps running");

    admin
        .execute_unprepared(&rename(&hidden, &name))
        .await
        .unwrap();
    // Every dead connection is replaced before it is handed out: not one
    // request after the outage fails for it.
    assert_eq!(app.ready().await.status(), 200, "recovers by itself");
    for _ in 0..8 {
        let (tasks, _) = app.list("alice", "").await;
        assert_eq!(tasks[0]["id"], task["id"]);
    }
}
