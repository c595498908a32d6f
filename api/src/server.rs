//! The HTTP server. poem's endpoint is served by hyper directly, because
//! poem's own server has no header-read timeout, no connection cap and no
//! head-size setting: a few slow or idle clients could hold connections
//! open for ever.

mod admission;

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
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::admission::{Admission, Admitted};
use crate::configuration::ServerLimits;
use crate::http::error::ApiError;
use crate::http::request_limits::OverConnectionCap;

/// The most hyper buffers while reading a request head. Heads over
/// `MAX_HEAD_BYTES` (16 KiB) but within this get a problem+json 431 from
/// the middleware; only heads beyond it get hyper's own bare 431.
const HEAD_BUFFER_BYTES: usize = 256 * 1024;

/// The most header lines hyper parses in one head, past its default of
/// 100 (whose refusal is a bare 431): a browser sends a few dozen, a proxy
/// chain a few more. Past 100 hyper sets up its header buffers for this
/// many lines at every parse, of every request (2 × 32 bytes a line), so
/// the bound stays small: at 4,096 lines, enough for any 16 KiB head, the
/// 256 KiB set-up per request cost a third of a `GET`'s CPU. A head over
/// 16 KiB in fewer lines gets the problem+json 431 of
/// [`crate::http::request_limits`]; one of more lines, hyper's bare 431.
const MAX_HEADERS: usize = 256;

/// The longest a connection over a cap may take to send its one request
/// head, so refused clients cannot sit on the reserve.
const RESTRICTED_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then lets requests in flight finish (for up to ten seconds).
///
/// Every connection is accepted, so the probes answer whatever the load: one
/// over `MAX_CONNECTIONS` or `MAX_CONNECTIONS_PER_CLIENT` is served one
/// request, a probe or a 429, from a small reserve; over the reserve too it
/// is closed at once.
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let app = Arc::new(app);
    let admission = Admission::new(&limits);
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    let mut shutdown = pin!(shutdown);
    loop {
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
        let (ticket, refusal) = match admission.admit(remote.ip()) {
            Admitted::Full(ticket) => (ticket, None),
            Admitted::Restricted(ticket, refusal) => (ticket, Some(Arc::new(refusal))),
            Admitted::Refused => {
                tracing::debug!(%remote, "closing a connection over every cap");
                continue;
            }
        };
        let connection = Connection {
            local,
            remote,
            app: Arc::clone(&app),
            limits: limits.clone(),
            refusal,
            stopping: stopping.clone(),
        };
        connections.spawn(async move {
            connection.serve(socket).await;
            drop(ticket);
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
    /// Set on a connection over a cap: what any request but a probe gets.
    refusal: Option<Arc<ApiError>>,
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
        let refusal = self.refusal.clone();
        let service = hyper::service::service_fn(move |req: poem::http::Request<Incoming>| {
            let app = Arc::clone(&app);
            let refusal = refusal.clone();
            async move {
                let mut req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(remote)),
                    Scheme::HTTP,
                ));
                // Answered inside the application's own layers
                // (`http::request_limits::refuse_over_cap`).
                if let Some(refusal) = refusal {
                    req.extensions_mut().insert(OverConnectionCap(refusal));
                }
                let response = app.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        });

        let restricted = self.refusal.is_some();
        let header_read_timeout = if restricted {
            self.limits
                .header_read_timeout
                .min(RESTRICTED_HEADER_READ_TIMEOUT)
        } else {
            self.limits.header_read_timeout
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_buf_size(HEAD_BUFFER_BYTES)
            .max_headers(MAX_HEADERS)
            // One request on a connection over a cap, then it closes.
            .keep_alive(!restricted);
        if restricted {
            // HTTP/2 would carry many requests on it: refused here.
            builder = builder.http1_only();
        }
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.limits.http2_max_streams)
            .max_header_list_size(HEAD_BUFFER_BYTES as u32);
        let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
        tokio::select! {
            _ = connection.as_mut() => return,
            () = activity.idle_for(header_read_timeout, self.limits.idle_timeout) => {
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
