//! Recurring tasks: rules read strictly and answered canonically, a series
//! advanced by the write that completes it (once per version), its anchor,
//! its end, local times across daylight-saving changes, and the rules
//! between `recurrence`, `reminders` and the due date and time.

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, id_of, json_with_status};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        a_rule_is_answered_in_canonical_form_and_anything_else_is_422_naming_it,
        completing_a_recurring_task_moves_it_to_the_next_occurrence_until_the_series_ends,
        two_devices_completing_one_occurrence_advance_it_once,
        every_write_that_completes_a_recurring_task_advances_it,
        the_anchor_moves_with_a_new_rule_or_due_date_and_count_counts_from_it,
        the_local_time_survives_daylight_saving_changes,
        until_ends_the_series_on_its_day_in_the_tasks_zone,
        reminders_are_sorted_and_checked_against_the_task_after_the_write,
    ]
}

fn recurring(title: &str, date: &str, time: Option<&str>, rule: &str) -> Value {
    json!({
        "title": title,
        "due_date": date,
        "due_time": time,
        "time_zone": "Europe/Berlin",
        "recurrence": rule,
    })
}

async fn a_rule_is_answered_in_canonical_form_and_anything_else_is_422_naming_it(app: TestApp) {
    let task = app
        .create_task(
            "ada",
            recurring(
                "standup",
                "2026-12-07",
                Some("09:00"),
                "byday=mo,we;freq=weekly;interval=1",
            ),
        )
        .await;
    assert_eq!(task["recurrence"], "FREQ=WEEKLY;BYDAY=MO,WE");
    let id = id_of(&task);
    let updated = app
        .updated(
            "ada",
            id,
            json!({"recurrence": "UNTIL=20271231;BYDAY=-1FR,1mo;FREQ=MONTHLY;INTERVAL=2"}),
        )
        .await;
    assert_eq!(
        updated["recurrence"],
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR,1MO;UNTIL=20271231"
    );
    for bad in [
        json!("RRULE:FREQ=DAILY"),
        json!("FREQ=HOURLY"),
        json!("FREQ=DAILY;WKST=MO"),
        json!("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO"),
        json!("FREQ=DAILY;COUNT=0"),
        json!("FREQ=DAILY;COUNT=2;UNTIL=20271231"),
        json!("FREQ=WEEKLY;BYDAY=1MO"),
        json!("FREQ=DAILY;FREQ=WEEKLY"),
        json!("FREQ=DAILY;INTERVAL=1000"),
        json!(""),
        json!(7),
    ] {
        let problem = assert_problem(
            app.update_task("ada", id, json!({"recurrence": bad})).await,
            422,
        )
        .await;
        assert_eq!(error_fields(&problem), ["recurrence"], "{bad}: {problem}");
        let problem = assert_problem(
            app.try_create(
                "ada",
                json!({"title": "t", "due_date": "2026-12-07", "recurrence": bad}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(error_fields(&problem), ["recurrence"], "{bad}: {problem}");
    }
    // Nothing stored changed.
    assert_eq!(app.task("ada", id).await, updated);
    // A rule needs a due date, also after the write.
    let problem = assert_problem(
        app.try_create("ada", json!({"title": "t", "recurrence": "FREQ=DAILY"}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["recurrence"]);
    let problem = assert_problem(
        app.update_task("ada", id, json!({"due_date": null, "due_time": null}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["recurrence"]);
    let cleared = app
        .updated(
            "ada",
            id,
            json!({"due_date": null, "due_time": null, "recurrence": null}),
        )
        .await;
    assert_eq!(cleared["recurrence"], Value::Null);
}

async fn completing_a_recurring_task_moves_it_to_the_next_occurrence_until_the_series_ends(
    app: TestApp,
) {
    let task = app
        .create_task(
            "ada",
            recurring(
                "water plants",
                "2026-12-06",
                Some("08:00"),
                "FREQ=DAILY;COUNT=3",
            ),
        )
        .await;
    let id = id_of(&task);
    let since = app.feed("ada", "").await.json::<Value>().await.unwrap()["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let next = app
        .completed("ada", id, Some(json!({"completed": true})))
        .await;
    assert_eq!(next["completed"], false, "{next}");
    assert_eq!(next["due_date"], "2026-12-07");
    assert_eq!(next["due_time"], "08:00");
    assert_eq!(next["due_at"], "2026-12-07T07:00:00.000000Z");
    assert_eq!(next["version"], 2);
    assert!(next["completed_at"].is_string(), "{next}");

    // The change feed shows the advanced task.
    let changes: Value = json_with_status(
        app.feed("ada", &format!("since={since}")).await,
        200,
        "the feed",
    )
    .await;
    assert_eq!(changes["tasks"][0]["due_date"], "2026-12-07");
    assert_eq!(changes["tasks"][0]["version"], 2);

    let last = app.completed("ada", id, None).await;
    assert_eq!(
        (&last["due_date"], &last["completed"]),
        (&json!("2026-12-08"), &json!(false))
    );
    // The third occurrence is the last: completing it completes the task.
    let done = app.completed("ada", id, None).await;
    assert_eq!(
        (&done["due_date"], &done["completed"], &done["version"]),
        (&json!("2026-12-08"), &json!(true), &json!(4))
    );
    // Reopening a finished series leaves it pending on its last date.
    let reopened = app
        .completed("ada", id, Some(json!({"completed": false})))
        .await;
    assert_eq!(
        (
            &reopened["due_date"],
            &reopened["completed"],
            &reopened["completed_at"]
        ),
        (&json!("2026-12-08"), &json!(false), &Value::Null)
    );
    // A task created completed is stored completed, not advanced.
    let created_done = app
        .create_task(
            "ada",
            json!({"title": "done", "completed": true, "due_date": "2026-12-06",
                   "recurrence": "FREQ=WEEKLY"}),
        )
        .await;
    assert_eq!(
        (&created_done["completed"], &created_done["due_date"]),
        (&json!(true), &json!("2026-12-06"))
    );
}

async fn two_devices_completing_one_occurrence_advance_it_once(app: TestApp) {
    let task = app
        .create_task(
            "ada",
            recurring("stretch", "2026-12-06", None, "FREQ=DAILY"),
        )
        .await;
    let id = id_of(&task);
    let tap = || async {
        app.request(Method::PATCH, &format!("/api/tasks/{id}/complete"), "ada")
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let (first, second) = tokio::join!(tap(), tap());
    let mut statuses = [first, second];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 412],
        "one tap advances, the stale one is refused"
    );
    let stored = app.task("ada", id).await;
    assert_eq!(
        (
            &stored["due_date"],
            &stored["version"],
            &stored["completed"]
        ),
        (&json!("2026-12-07"), &json!(2), &json!(false))
    );
}

async fn every_write_that_completes_a_recurring_task_advances_it(app: TestApp) {
    let rule = "FREQ=WEEKLY;BYDAY=MO,FR";
    // 2026-12-07 is a Monday.
    let by_put = id_of(
        &app.create_task("ada", recurring("a", "2026-12-07", Some("18:00"), rule))
            .await,
    );
    let put = app
        .updated(
            "ada",
            by_put,
            json!({"completed": true, "title": "a, done"}),
        )
        .await;
    assert_eq!(
        (&put["due_date"], &put["completed"], &put["title"]),
        (&json!("2026-12-11"), &json!(false), &json!("a, done"))
    );
    // A PUT that moves the date and completes: the series restarts there
    // and advances from it.
    let moved = app
        .updated(
            "ada",
            by_put,
            json!({"due_date": "2026-12-18", "completed": true}),
        )
        .await;
    assert_eq!(moved["due_date"], "2026-12-21");

    let by_batch = id_of(
        &app.create_task("ada", recurring("b", "2026-12-07", Some("18:00"), rule))
            .await,
    );
    let batch = json_with_status(
        app.send(
            Method::POST,
            "/api/batch",
            "ada",
            Some(&json!({"operations": [
                {"op": "complete", "id": by_batch, "completed": true},
                {"op": "update", "id": by_batch, "task": {"completed": true}},
            ]})),
        )
        .await,
        200,
        "the batch",
    )
    .await;
    assert_eq!(batch["results"][0]["task"]["due_date"], "2026-12-11");
    assert_eq!(batch["results"][1]["task"]["due_date"], "2026-12-14");
    assert_eq!(batch["results"][1]["task"]["version"], 3);
}

async fn the_anchor_moves_with_a_new_rule_or_due_date_and_count_counts_from_it(app: TestApp) {
    let id = id_of(
        &app.create_task(
            "ada",
            recurring("t", "2026-12-06", Some("10:00"), "FREQ=DAILY;COUNT=2"),
        )
        .await,
    );
    assert_eq!(
        app.completed("ada", id, None).await["due_date"],
        "2026-12-07"
    );
    // The same rule sent again keeps the anchor: the series is at its end.
    app.updated(
        "ada",
        id,
        json!({"recurrence": "freq=daily;count=2", "title": "t2"}),
    )
    .await;
    let ended = app.completed("ada", id, None).await;
    assert_eq!(
        (&ended["completed"], &ended["due_date"]),
        (&json!(true), &json!("2026-12-07"))
    );
    app.completed("ada", id, None).await;
    // A new due date restarts the series there: two more occurrences.
    app.updated("ada", id, json!({"due_date": "2027-01-10"}))
        .await;
    assert_eq!(
        app.completed("ada", id, None).await["due_date"],
        "2027-01-11"
    );
    let again = app.completed("ada", id, None).await;
    assert_eq!(again["completed"], true);
    // So does a changed rule.
    app.completed("ada", id, None).await;
    app.updated("ada", id, json!({"recurrence": "FREQ=WEEKLY;COUNT=2"}))
        .await;
    assert_eq!(
        app.completed("ada", id, None).await["due_date"],
        "2027-01-18"
    );
}

async fn the_local_time_survives_daylight_saving_changes(app: TestApp) {
    // Berlin leaves summer time on 2026-10-25 and skips 02:00–03:00 on
    // 2027-03-28.
    let id = id_of(
        &app.create_task(
            "ada",
            recurring("weekly", "2026-10-18", Some("09:00"), "FREQ=WEEKLY"),
        )
        .await,
    );
    let next = app.completed("ada", id, None).await;
    assert_eq!(
        (&next["due_date"], &next["due_time"], &next["due_at"]),
        (
            &json!("2026-10-25"),
            &json!("09:00"),
            &json!("2026-10-25T08:00:00.000000Z")
        )
    );
    let gap = id_of(
        &app.create_task(
            "ada",
            recurring("in the gap", "2027-03-27", Some("02:30"), "FREQ=DAILY"),
        )
        .await,
    );
    let in_gap = app.completed("ada", gap, None).await;
    assert_eq!(
        (&in_gap["due_date"], &in_gap["due_time"], &in_gap["due_at"]),
        (
            &json!("2027-03-28"),
            &json!("02:30"),
            &json!("2027-03-28T01:30:00.000000Z")
        ),
        "an occurrence in the gap keeps its time and moves only due_at"
    );
    let after = app.completed("ada", gap, None).await;
    assert_eq!(
        (&after["due_time"], &after["due_at"]),
        (&json!("02:30"), &json!("2027-03-29T00:30:00.000000Z"))
    );
}

async fn until_ends_the_series_on_its_day_in_the_tasks_zone(app: TestApp) {
    let id = id_of(
        &app.create_task(
            "ada",
            recurring("t", "2026-12-29", None, "FREQ=DAILY;UNTIL=20261230"),
        )
        .await,
    );
    assert_eq!(
        app.completed("ada", id, None).await["due_date"],
        "2026-12-30"
    );
    assert_eq!(app.completed("ada", id, None).await["completed"], true);
}

async fn reminders_are_sorted_and_checked_against_the_task_after_the_write(app: TestApp) {
    let task = app
        .create_task(
            "ada",
            json!({"title": "call", "due_date": "2030-01-01", "due_time": "12:00",
                   "reminders": [60, 0, 1440]}),
        )
        .await;
    assert_eq!(task["reminders"], json!([0, 60, 1440]));
    let id = id_of(&task);
    assert_eq!(
        app.create_task("ada", json!({"title": "plain"})).await["reminders"],
        json!([])
    );
    for bad in [
        json!(null),
        json!([-1]),
        json!([40321]),
        json!([5, 5]),
        json!([1, 2, 3, 4, 5, 6]),
        json!(["5"]),
        json!(15),
    ] {
        let problem = assert_problem(
            app.update_task("ada", id, json!({"reminders": bad})).await,
            422,
        )
        .await;
        assert_eq!(error_fields(&problem), ["reminders"], "{bad}");
    }
    // Reminders need a due time, also after the write.
    let problem = assert_problem(
        app.try_create(
            "ada",
            json!({"title": "t", "due_date": "2030-01-01", "reminders": [0]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["reminders"]);
    let problem = assert_problem(
        app.update_task("ada", id, json!({"due_time": null})).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["reminders"]);
    assert_eq!(app.task("ada", id).await["reminders"], json!([0, 60, 1440]));
    let cleared = app
        .updated("ada", id, json!({"due_time": null, "reminders": []}))
        .await;
    assert_eq!(cleared["reminders"], json!([]));
}
