//! One connection served by hyper, with the application's router answering every request.
//!
//! A stream request the realtime endpoint accepts is still answered by the router (its routes
//! and layers decide), but when the connection can write that stream itself the endpoint
//! offers the stream instead of a response body, and the stream is taken from hyper:
//!
//! 1. The request qualifies only at a response boundary hyper itself reached: HTTP/1.1, no
//!    body, no `Expect`, no upgrade, and everything hyper wrote before is flushed (hyper reads
//!    the next request head only after the previous response is complete, and flushes the
//!    socket only with an empty buffer). Anything else is served by hyper as usual.
//! 2. The router answers; if it answered 200 with the offered stream, the application's status
//!    and headers are kept, and hyper is given a placeholder response with
//!    `Connection: close`, which the connection discards instead of writing.
//! 3. Hyper finishes that response and lets go of the connection; if it holds no bytes read
//!    past the request (a pipelining client), the connection writes the application's head
//!    and the stream itself (`direct`), in a task of its own so that none of hyper's state
//!    stays allocated for the stream's lifetime.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::header::{CONNECTION, EXPECT, UPGRADE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::server::conn::http1::Parts;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

use super::connection::Connection;
use super::context::{Phase, ServeContext};
use crate::http::handoff::{DirectStream, Handoff, Peer};
use crate::http::stream::EventStream;

/// A stream taken from hyper: the connection, the stream and the head the router answered.
pub(super) type Taken = (Connection, EventStream, HeaderMap);

/// Serves `conn` until the client leaves or the server shuts down; or until the router accepts
/// a stream that the connection can write itself, which is returned.
pub(super) async fn serve(conn: Connection, peer: Peer, context: &ServeContext) -> Option<Taken> {
    let handoff = Arc::clone(conn.handoff());
    let service = ConnectionService::new(context, peer, &handoff, context.direct_streams);
    let mut http = context
        .http1
        .serve_connection(TokioIo::new(conn), service)
        .with_upgrades();
    let mut phase = context.phase.subscribe();
    let mut draining = *phase.borrow() != Phase::Running;
    if draining {
        Pin::new(&mut http).graceful_shutdown();
    }
    let served = loop {
        tokio::select! {
            served = &mut http => break served,
            changed = phase.changed(), if !draining => {
                if changed.is_err() || *phase.borrow() != Phase::Running {
                    draining = true;
                    Pin::new(&mut http).graceful_shutdown();
                }
            }
        }
    };
    if let Err(err) = served {
        tracing::debug!("connection ended: {err}");
        return None;
    }
    let (stream, headers) = handoff.taken()?;
    // `None`: upgraded; the stream's client is unregistered with it.
    let Parts { io, read_buf, .. } = http.into_parts()?;
    handoff.stop_swallowing();
    let mut conn = io.into_inner();
    if !read_buf.is_empty() {
        // The client sent more after its stream request: it is not a browser's EventSource.
        let _ = conn.shutdown().await;
        return None;
    }
    Some((conn, stream, headers))
}

/// The router, told the connection's peer, and able to take a stream it accepted.
#[derive(Clone)]
pub(super) struct ConnectionService {
    router: Router,
    peer: Peer,
    handoff: Arc<Handoff>,
    /// Whether streams may be taken from hyper at all.
    direct_streams: bool,
}

impl ConnectionService {
    /// The service of one connection; `direct_streams`: whether it may take streams from hyper.
    pub(super) fn new(
        context: &ServeContext,
        peer: Peer,
        handoff: &Arc<Handoff>,
        direct_streams: bool,
    ) -> Self {
        Self {
            router: context.router.clone(),
            peer,
            handoff: Arc::clone(handoff),
            direct_streams,
        }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let mut request = request.map(Body::new);
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(self.peer.clone()));
        extensions.insert(ConnectInfo::<SocketAddr>(self.peer.addr()));
        self.handoff.note_request();
        let handoff = (self.direct_streams && self.handoff.is_flushed() && may_take_over(&request))
            .then(|| Arc::clone(&self.handoff));
        if let Some(handoff) = &handoff {
            request
                .extensions_mut()
                .insert(DirectStream(Arc::clone(handoff)));
        }
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            let Some(handoff) = handoff else {
                return Ok(response);
            };
            if response.status() == StatusCode::OK && handoff.take_over(response.headers().clone())
            {
                return Ok(placeholder());
            }
            handoff.withdraw();
            Ok(response)
        })
    }
}

/// Whether the request ends where hyper parsed it, with nothing hyper must still answer.
fn may_take_over(request: &Request<Body>) -> bool {
    let headers = request.headers();
    request.method() == Method::GET
        && request.version() == Version::HTTP_11
        && request.body().is_end_stream()
        && !headers.contains_key(EXPECT)
        && !headers.contains_key(UPGRADE)
}

/// What hyper is given for a stream taken over: it ends the connection for hyper, and is
/// discarded rather than written.
fn placeholder() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
