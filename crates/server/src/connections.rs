//! How the service accepts and keeps HTTP connections: at most
//! [`ConnectionLimits::max_connections`] at once, and none held open by a
//! client that sends nothing, sends a request slowly, or stops reading.
//!
//! `axum::serve` has no such limits, so this is the accept loop, over
//! hyper's HTTP/1 connection. Each connection is watched through its
//! socket: its [`Phase`] says what the client owes, and a watchdog closes it
//! when the client takes too long:
//!
//! - **Head:** from the connection's opening, or from the first byte after an
//!   idle pause, the request line and headers must arrive within
//!   `header_timeout`.
//! - **Body:** from the head, the body must arrive within `body_timeout`; a
//!   handler reading it then gets an error (408 for a JSON body), and hyper
//!   closes a connection whose body was not read to its end.
//! - **Busy:** while a request is served nothing is owed, unless the client
//!   stops reading the answer: a write blocked for `idle_timeout` closes it.
//! - **Idle:** between requests a connection is kept for `idle_timeout`.
//!
//! When the slots are full the loop stops accepting: new connections wait in
//! the kernel's listen backlog rather than being answered and dropped.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Limits on the service's connections (`[service]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's line and headers, from the
    /// connection's opening or from its first byte after an idle pause.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body, from its head.
    pub body_timeout: Duration,
    /// Time a connection is kept without a request in progress; also how
    /// long a client may leave an answer unread.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// How long open connections may finish their requests once the service is
/// asked to stop; event streams never finish, so they are cut then.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// with client addresses available to handlers (`ConnectInfo<SocketAddr>`,
/// which login rate limiting reads).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, stopping) = (app.clone(), stopping.clone());
        match tls.clone() {
            None => connections.spawn(connection(stream, peer, app, limits, slot, stopping)),
            Some(acceptor) => connections.spawn(async move {
                // The handshake counts against the header timeout: a client
                // that opens a connection and says nothing holds a slot no longer.
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => connection(stream, peer, app, limits, slot, stopping).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }),
        };
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(());
    let drained = async { while connections.join_next().await.is_some() {} };
    // What has not finished by then is cut when `connections` is dropped.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drained).await;
    Ok(())
}

/// Serves one connection until it ends, a limit closes it, or the service stops.
async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    _slot: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<()>,
) {
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let requests = watch.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = requests.request_started();
        let app = app.clone();
        async move {
            let deadline = Instant::now() + limits.body_timeout;
            let mut request = request.map(|body| {
                Body::new(TimedBody {
                    inner: body,
                    deadline: Box::pin(tokio::time::sleep_until(deadline)),
                    after: limits.body_timeout,
                })
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = tower::ServiceExt::oneshot(app, request).await?;
            // The request counts as in progress until its answer is sent.
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Guarded {
                    inner: body,
                    _busy: busy,
                })
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            why = watch.expired(&limits) => {
                tracing::debug!(%peer, why, "connection closed");
                return;
            }
            _ = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection's client owes now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// A request's head, since then.
    Head(Instant),
    /// Nothing: `requests` are being served.
    Busy {
        /// Requests in progress (their answers not yet sent).
        requests: usize,
        /// Since when a write of an answer has waited for the client to read.
        blocked: Option<Instant>,
    },
    /// Nothing, since then, between requests.
    Idle(Instant),
}

/// One connection's [`Phase`], told of every change.
#[derive(Debug)]
struct Watch {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Watch {
    fn new() -> Self {
        Watch {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, next: Phase) {
        *self.phase() = next;
        self.changed.notify_one();
    }

    /// Bytes arrived: after an idle pause they start a request's head.
    fn read_some(&self) {
        if matches!(*self.phase(), Phase::Idle(_)) {
            self.set(Phase::Head(Instant::now()));
        }
    }

    /// A write waits for the client to read (`true`) or went through.
    fn write_blocked(&self, blocked: bool) {
        let mut phase = self.phase();
        if let Phase::Busy { blocked: since, .. } = &mut *phase
            && since.is_some() != blocked
        {
            *since = blocked.then(Instant::now);
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request's head was read; the guard ends it when dropped.
    fn request_started(self: &Arc<Self>) -> BusyGuard {
        let requests = match *self.phase() {
            Phase::Busy { requests, .. } => requests,
            _ => 0,
        };
        self.set(Phase::Busy {
            requests: requests + 1,
            blocked: None,
        });
        BusyGuard(self.clone())
    }

    fn request_ended(&self) {
        let next = match *self.phase() {
            Phase::Busy { requests, blocked } if requests > 1 => Phase::Busy {
                requests: requests - 1,
                blocked,
            },
            _ => Phase::Idle(Instant::now()),
        };
        self.set(next);
    }

    /// Completes when the client has taken longer than `limits` allow in
    /// the current phase; answers which limit.
    async fn expired(&self, limits: &ConnectionLimits) -> &'static str {
        loop {
            let notified = self.changed.notified();
            let (deadline, why) = match *self.phase() {
                Phase::Head(since) => (Some(since + limits.header_timeout), "header timeout"),
                Phase::Busy {
                    blocked: Some(since),
                    ..
                } => (Some(since + limits.idle_timeout), "answer unread"),
                Phase::Busy { blocked: None, .. } => (None, ""),
                Phase::Idle(since) => (Some(since + limits.idle_timeout), "idle timeout"),
            };
            match deadline {
                Some(deadline) if Instant::now() >= deadline => return why,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Ends a request in its connection's [`Watch`] when dropped (with its answer).
#[derive(Debug)]
struct BusyGuard(Arc<Watch>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The socket, telling its [`Watch`] of reads and of blocked writes.
struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read_some();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch.write_blocked(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch.write_blocked(polled.is_pending());
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

/// A request body that fails once its deadline passed with data still owed.
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    after: Duration,
}

/// A request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimeout(pub Duration);

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(self.after))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body holding its request's [`BusyGuard`].
struct Guarded {
    inner: Body,
    _busy: BusyGuard,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
