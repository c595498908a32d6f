//! The database goes away and comes back: every route that needs it answers
//! 503 with `Retry-After` within a second, the rest keep working, and the
//! service recovers by itself.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use api::startup::Application;

use crate::helpers::{TestApp, assert_problem, id_of, test_settings};

pub fn tests() -> Vec<Trial> {
    crate::postgres_only![database_outage_is_a_fast_503_and_recovers_by_itself]
}

/// A TCP forwarder between the service and PostgreSQL that a test can cut
/// (every connection dropped, new ones refused) and restore.
struct CuttableProxy {
    address: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            address: listener.local_addr().unwrap(),
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(forward);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Drops every connection and stops listening: connections are refused,
    /// as when PostgreSQL is down.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = loop {
            // The aborted listener may take a moment to release the port.
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        self.serve(listener);
    }
}

async fn database_outage_is_a_fast_503_and_recovers_by_itself(app: TestApp) {
    let mut database_url = url::Url::parse(&app.database.url).unwrap();
    let target = tokio::net::lookup_host(format!(
        "{}:{}",
        database_url.host_str().unwrap(),
        database_url.port().unwrap_or(5432)
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let proxy = CuttableProxy::start(target).await;
    database_url.set_port(Some(proxy.address.port())).unwrap();
    let application = Application::build(test_settings(database_url.as_str(), &app.secret))
        .await
        .expect("the service starts through the proxy");
    let service = TestApp {
        address: format!("http://127.0.0.1:{}", application.port()),
        ..app
    };
    tokio::spawn(application.run_until_stopped());
    let id = id_of(&service.create_task("alice", json!({"title": "kept"})).await);
    let task = format!("/api/tasks/{id}");

    proxy.cut();
    let needs_the_database = [
        (Method::GET, "/api/tasks".to_owned(), None),
        (
            Method::POST,
            "/api/tasks".to_owned(),
            Some(json!({"title": "lost"})),
        ),
        (Method::GET, task.clone(), None),
        (Method::PUT, task.clone(), Some(json!({"title": "changed"}))),
        (Method::PATCH, format!("{task}/complete"), None),
        (Method::DELETE, task.clone(), None),
    ];
    for (method, path, body) in &needs_the_database {
        let started = Instant::now();
        let response = service
            .send(method.clone(), path, "alice", body.as_ref())
            .await;
        let took = started.elapsed();
        assert_eq!(response.headers()["retry-after"], "1", "{method} {path}");
        assert_problem(response, 503).await;
        assert!(
            took < Duration::from_secs(1),
            "{method} {path} took {took:?}"
        );
    }
    let started = Instant::now();
    let ready = service.ready().await;
    assert_eq!(ready.headers()["retry-after"], "1");
    assert_problem(ready, 503).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(service.live().await.status(), 200);
    assert_eq!(
        service.me("alice").await["id"],
        "alice",
        "no database needed"
    );

    proxy.restore().await;
    let restored = Instant::now();
    loop {
        let response = service.try_list("alice", "").await;
        if response.status() == 200 {
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(2),
            "still {} two seconds after the database returned",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(service.ready().await.status(), 200);
    // Nothing the failed requests tried was stored.
    let (tasks, total) = service.list("alice", "").await;
    assert_eq!(total, 1);
    assert_eq!(tasks[0]["title"], "kept");
    assert_eq!(tasks[0]["version"], 1);
    assert_eq!(tasks[0]["completed"], false);
}
