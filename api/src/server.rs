//! The HTTP server. poem's endpoint is served by hyper directly, because
//! poem's own server has no header-read timeout, no connection cap and no
//! head-size setting: a few slow or idle clients could hold connections
//! open for ever.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::configuration::ServerLimits;

/// The most hyper buffers while reading a request head. Heads over
/// `MAX_HEAD_BYTES` (16 KiB) but within this get a problem+json 431 from
/// the middleware; only heads beyond it get hyper's own bare 431.
const HEAD_BUFFER_BYTES: usize = 256 * 1024;

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then lets requests in flight finish (for up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let app = Arc::new(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // At the cap, stop accepting: new clients wait in the kernel's
        // queue instead of costing memory here.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (socket, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            local,
            remote,
            app: Arc::clone(&app),
            limits: limits.clone(),
            stopping: stopping.clone(),
        };
        connections.spawn(async move {
            connection.serve(socket).await;
            drop(slot);
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("dropped connections still busy after the shutdown grace period");
    }
    Ok(())
}

struct Connection {
    local: SocketAddr,
    remote: SocketAddr,
    app: Arc<BoxEndpoint<'static>>,
    limits: ServerLimits,
    stopping: CancellationToken,
}

impl Connection {
    async fn serve(self, socket: TcpStream) {
        let _ = socket.set_nodelay(true);
        let activity = Activity::default();
        let io = TokioIo::new(Watched {
            inner: socket,
            activity: activity.clone(),
        });
        let (local, remote, app) = (self.local, self.remote, self.app);
        let service = hyper::service::service_fn(move |req: poem::http::Request<Incoming>| {
            let app = Arc::clone(&app);
            async move {
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(remote)),
                    Scheme::HTTP,
                ));
                let response = app.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        });

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .max_buf_size(HEAD_BUFFER_BYTES);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.limits.http2_max_streams)
            .max_header_list_size(HEAD_BUFFER_BYTES as u32);
        let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
        tokio::select! {
            _ = connection.as_mut() => return,
            () = activity.idle_for(self.limits.header_read_timeout, self.limits.idle_timeout) => {
                // Nothing has moved for the whole timeout, so nothing is in
                // flight: drop the socket rather than wait for the client.
                tracing::debug!(%remote, "closing an idle connection");
                return;
            }
            () = self.stopping.cancelled() => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
    }
}

/// When a connection last moved a byte either way.
#[derive(Clone)]
struct Activity {
    since: Instant,
    /// Milliseconds from `since` to the last byte, plus one; zero until the
    /// first byte.
    last_millis: Arc<AtomicU64>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            last_millis: Arc::default(),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let millis = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_millis.store(millis + 1, Ordering::Relaxed);
    }

    /// Resolves once the client has sent nothing for `first_byte` since the
    /// connection opened (hyper's header timeout starts only after it has
    /// seen which protocol the client speaks), or nothing has moved either
    /// way for `idle` since.
    async fn idle_for(&self, first_byte: Duration, idle: Duration) {
        loop {
            let last = self.last_millis.load(Ordering::Relaxed);
            let deadline = match last {
                0 => self.since + first_byte,
                last => self.since + Duration::from_millis(last - 1) + idle,
            };
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            // Before the first byte, look again within `idle`: the client
            // may start and then fall silent before `first_byte` is up.
            let wake = if last == 0 {
                deadline.min(now + idle)
            } else {
                deadline
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// A socket that records its activity.
struct Watched {
    inner: TcpStream,
    activity: Activity,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
