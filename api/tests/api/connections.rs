//! Slow, idle and oversized clients cannot hold the service: header-read and
//! idle timeouts, a connection cap, a head-size limit and a request timeout.

use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::standalone![
        idle_and_half_sent_connections_neither_delay_others_nor_stay_open,
        idle_keep_alive_connections_are_closed,
        connections_beyond_the_cap_wait_for_a_free_slot,
        heads_over_16_kib_are_431_problems,
        requests_running_past_the_timeout_are_503,
        http2_streams_beyond_the_cap_wait,
    ]
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

async fn app_with_header_timeout() -> TestApp {
    spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.header_read_timeout = HEADER_TIMEOUT;
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Waits (up to `limit`) for the server to close `stream`; `true` if it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = Vec::new();
    // End of stream or a reset both mean the server let go.
    tokio::time::timeout(limit, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

async fn idle_and_half_sent_connections_neither_delay_others_nor_stay_open() {
    let app = app_with_header_timeout().await;
    let opened = Instant::now();
    let mut hogs = Vec::new();
    for n in 0..200 {
        let mut stream = connect(&app).await;
        if n % 2 == 1 {
            stream
                .write_all(b"GET /api/tasks HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
                .await
                .unwrap();
        }
        hogs.push(stream);
    }

    let started = Instant::now();
    let live = app.live().await;
    assert_eq!(live.status(), 200);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a normal request took {took:?}"
    );

    for (n, stream) in hogs.iter_mut().enumerate() {
        let left = (HEADER_TIMEOUT + Duration::from_secs(3)).saturating_sub(opened.elapsed());
        assert!(
            closed_within(stream, left).await,
            "connection {n} ({}) still open {:?} after it was opened",
            if n % 2 == 1 { "half-sent" } else { "idle" },
            opened.elapsed()
        );
    }
    assert!(
        opened.elapsed() >= HEADER_TIMEOUT,
        "closed before the header timeout"
    );
}

async fn idle_keep_alive_connections_are_closed() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = [0u8; 12];
    stream.read_exact(&mut response).await.unwrap();
    assert_eq!(&response, b"HTTP/1.1 200");
    let served = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
    assert!(served.elapsed() >= Duration::from_millis(900));
}

async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.header_read_timeout = HEADER_TIMEOUT;
        settings.limits.max_connections = 2;
    })
    .await;
    let _hogs = [connect(&app).await, connect(&app).await];
    let started = Instant::now();
    assert_eq!(app.live().await.status(), 200);
    let waited = started.elapsed();
    // Served only once the header timeout freed a slot.
    assert!(
        waited >= HEADER_TIMEOUT - Duration::from_millis(200),
        "served after {waited:?}, past a cap of two"
    );
}

async fn heads_over_16_kib_are_431_problems() {
    let app = app_with_header_timeout().await;
    let with_header_of = |bytes: usize| {
        app.request(reqwest::Method::GET, "/api/tasks", "alice")
            .header("x-padding", "p".repeat(bytes))
            .send()
    };
    assert_eq!(with_header_of(15 * 1024).await.unwrap().status(), 200);
    for bytes in [17 * 1024, 100 * 1024] {
        let response = with_header_of(bytes).await.unwrap();
        let problem = assert_problem(response, 431).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("16 KiB"),
            "{problem}"
        );
    }
}

async fn requests_running_past_the_timeout_are_503() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.request_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let response = app.get_anonymously("/test/slow").await;
    let took = started.elapsed();
    assert_eq!(response.headers()["retry-after"], "1");
    let problem = assert_problem(response, 503).await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        problem["detail"].as_str().unwrap().contains("300ms"),
        "{problem}"
    );
}

async fn http2_streams_beyond_the_cap_wait() {
    let timeout = Duration::from_millis(400);
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.http2_max_streams = 2;
        settings.limits.request_timeout = timeout;
    })
    .await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let started = Instant::now();
    // Each request holds its stream until the request timeout ends it.
    let answers = futures_util::future::join_all((0..3).map(|_| async {
        let response = client.get(app.url("/test/slow")).send().await.unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        (response.status(), started.elapsed())
    }))
    .await;
    assert!(answers.iter().all(|(status, _)| *status == 503));
    let last = answers.iter().map(|(_, took)| *took).max().unwrap();
    // Two streams at a time: the third started only when one ended.
    assert!(
        last >= timeout * 2 - Duration::from_millis(50),
        "{answers:?}"
    );
}
