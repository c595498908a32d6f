//! Slow, idle, crowding and oversized clients cannot hold the service:
//! header-read and idle timeouts, connection caps in all and per client
//! address (the probes answer over both), a head-size limit and a request
//! timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use reqwest::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::standalone![
        idle_and_half_sent_connections_neither_delay_others_nor_stay_open,
        idle_keep_alive_connections_are_closed,
        over_the_connection_cap_only_the_probes_answer,
        one_address_cannot_take_every_connection,
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

/// `127.0.0.<last>`: every loopback address reaches the service, each a
/// client address of its own.
fn loopback(last: u8) -> IpAddr {
    Ipv4Addr::new(127, 0, 0, last).into()
}

/// A connection from `from` (a loopback address) to the service.
async fn connect_from(app: &TestApp, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let server: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    socket.connect(server).await.expect("connect")
}

/// An HTTP client whose connections come from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap()
}

/// A 429 problem on a connection over a cap: `Retry-After`, and the server
/// closes the connection after it.
async fn assert_over_a_cap(response: Response) -> serde_json::Value {
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["connection"], "close");
    let problem = assert_problem(response, 429).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("open connections"),
        "{problem}"
    );
    problem
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
    // All from one address: within its cap here, so every one is served in
    // full and must be closed by the timeouts.
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.header_read_timeout = HEADER_TIMEOUT;
        settings.limits.max_connections_per_client = 1024;
    })
    .await;
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

/// Over `MAX_CONNECTIONS`, new connections still reach the probes; anything
/// else is a 429 problem, until a connection closes.
async fn over_the_connection_cap_only_the_probes_answer() {
    const CAP: usize = 20;
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.limits.max_connections = CAP;
        settings.limits.max_connections_per_client = CAP;
    })
    .await;
    // Idle connections from five addresses fill the cap (the header-read
    // timeout, 10 s by default, would close them). The service accepts in
    // order, so every connection below comes after them.
    let mut hogs = Vec::new();
    for n in 0..CAP {
        hogs.push(connect_from(&app, loopback(1 + (n % 5) as u8)).await);
    }

    for path in ["/health/live", "/health/ready"] {
        let response = app.get_anonymously(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let refused = app
        .request(reqwest::Method::GET, "/api/tasks", "alice")
        .header("origin", "http://localhost:3000")
        .header("x-request-id", "over-the-cap")
        .send()
        .await
        .unwrap();
    // Answered like any other response: a browser may read it, and its
    // request id names it.
    let headers = refused.headers().clone();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(headers["x-request-id"], "over-the-cap");
    assert_over_a_cap(refused).await;
    // From an address holding nothing, the same: the cap is for all.
    let newcomer = client_from(loopback(9));
    let refused = newcomer
        .get(app.url("/api/tasks"))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    assert_over_a_cap(refused).await;

    // Once connections close, requests are served in full again (as soon
    // as the server has seen them go).
    drop(hogs);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = app
            .request(reqwest::Method::GET, "/api/tasks", "alice")
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert_over_a_cap(response).await;
        assert!(
            Instant::now() < deadline,
            "still refused after the hogs closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 103 users × 10 idle event streams (1,030, past `MAX_CONNECTIONS`) from one
/// address, at the default limits: only `MAX_CONNECTIONS_PER_CLIENT` (64) are
/// served; the rest are refused (429) or closed, and neither a newcomer
/// from another address nor the probes from the crowded one are held up.
async fn one_address_cannot_take_every_connection() {
    const USERS: usize = 103;
    const STREAMS_PER_USER: usize = 10;
    const PER_CLIENT: usize = 64;
    let app = spawn_app(Backend::Sqlite).await;
    // Opened one after another, so each refused connection has closed
    // before the next opens: open files stay near 2 × 64 (service and
    // client), well within the usual `ulimit -n` of 1,024.
    let crowd = client_from(loopback(1));
    let (mut open, mut refused, mut closed) = (Vec::new(), 0, 0);
    for user in 0..USERS {
        let token = app.token(&format!("user-{user}"));
        for _ in 0..STREAMS_PER_USER {
            match crowd
                .get(app.url("/api/events"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(stream) if stream.status() == 200 => open.push(stream),
                Ok(response) => {
                    assert_over_a_cap(response).await;
                    refused += 1;
                }
                // Closed at once: the reserve for connections over a cap
                // was full.
                Err(_) => closed += 1,
            }
        }
    }
    assert_eq!(open.len(), PER_CLIENT, "{refused} refused, {closed} closed");
    assert!(
        refused > 0,
        "none of the {closed} over the cap was answered"
    );
    for stream in &open {
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
    }

    let newcomer = client_from(loopback(2));
    let served = newcomer
        .get(app.url("/api/tasks"))
        .bearer_auth(app.token("newcomer"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let live = crowd.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    // The streams were held open throughout.
    drop(open);
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
