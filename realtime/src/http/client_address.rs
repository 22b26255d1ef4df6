//! The client's address of a request: the socket peer, or the client a trusted proxy names
//! (see [`TrustedProxies`]). The one place both stream paths and the subscription `POST`
//! take it from.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};

use crate::http::handoff::Peer;
use crate::proxy::TrustedProxies;

/// Where a request came from: its socket peer, and the client that peer speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddress {
    pub(crate) peer: IpAddr,
    pub(crate) client: IpAddr,
}

impl ClientAddress {
    /// The addresses of `request`, or `None` when the server gives no peer address (served
    /// without [`Realtime::serve`](crate::Realtime::serve) or axum's connect info).
    pub(crate) fn of(request: &Request, proxies: &TrustedProxies) -> Option<Self> {
        let peer = peer_addr(request)?.ip();
        let client = proxies.client_address(peer, request.headers());
        Some(Self { peer, client })
    }

    /// Whether a trusted proxy named the client, rather than the client being the peer.
    pub(crate) fn is_forwarded(&self) -> bool {
        self.peer != self.client
    }
}

/// The peer's address, from [`crate::serve`]'s [`Peer`] or axum's plain connect info.
fn peer_addr(request: &Request) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<Peer>>()
        .map(|info| info.0.addr())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0)
        })
}
