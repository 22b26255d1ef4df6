//! Serving an app on a free loopback port for the length of a test.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_realtime::Realtime;
use axum_realtime::serve::{Serve, Tls};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on `127.0.0.1:<free port>`, stopped when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Serves `app` with [`Realtime::serve`], as in production: the peer's address is known,
    /// the broker can abort stalled connections, and streams take the broker's own path.
    ///
    /// # Panics
    ///
    /// Panics if no loopback port can be bound.
    pub async fn start(rt: &Realtime, app: Router) -> Self {
        Self::start_with(rt, app, |serve| serve).await
    }

    /// Serves `app` as [`TestServer::start`] does, terminating TLS with `tls` (HTTP/2 and
    /// HTTP/1.1 by ALPN).
    ///
    /// # Panics
    ///
    /// Panics if no loopback port can be bound.
    pub async fn start_tls(rt: &Realtime, app: Router, tls: Tls) -> Self {
        Self::start_with(rt, app, |serve| serve.with_tls(tls)).await
    }

    async fn start_with(
        rt: &Realtime,
        app: Router,
        configure: impl FnOnce(Serve) -> Serve,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = configure(rt.serve(listener, app)).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            serve.await.expect("server failed");
        });
        Self {
            addr,
            task,
            stop: Some(stop),
        }
    }

    /// Starts a graceful shutdown and waits up to `bound` for the server to stop; whether it
    /// did.
    pub async fn shut_down_within(mut self, bound: Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(bound, &mut self.task).await.is_ok()
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
