//! The published PocketBase JS SDK against three nodes on one Redis, through a round-robin
//! balancer without sticky sessions: each `tests/js/nodes/*.test.mjs` runs under Node's test
//! runner against a fresh cluster (see `tests/js/README.md`).
//!
//! The JS side gets the balancer as `REALTIME_URL` (where the SDK connects), every node's own
//! URL as `NODE_URLS` (to send on a chosen node, and to see which node holds which client),
//! and this test's harness as `HARNESS_URL`: `POST /nodes/{index}/stop` stops a node while
//! the SDK clients stay connected to the others (a node cannot stop itself from one of its
//! own handlers), and `GET /balancer/forwarded` lists where the balancer sent each request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Json, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum_realtime::{EngineStatus, Realtime};
use realtime_tests::balancer::Balancer;
use realtime_tests::control_app::control_app_with;
use realtime_tests::node::{self, js_dir};
use realtime_tests::redis::RedisServer;
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How many nodes each file runs against.
const NODES: usize = 3;

/// How long a stopping node may take to end its streams and close: a generous ceiling, which
/// only bounds a hang.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One node: the control app on a broker joined to the others by Redis.
struct Node {
    rt: Realtime,
    server: TestServer,
}

/// The nodes, each `None` once stopped.
type Nodes = Arc<Vec<Mutex<Option<Node>>>>;

/// What the harness's handlers share.
#[derive(Clone)]
struct Harness {
    nodes: Nodes,
    balancer: Arc<Balancer>,
}

/// The harness server, stopped when dropped.
struct HarnessServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for HarnessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_harness(harness: Harness) -> HarnessServer {
    let router = Router::new()
        .route("/nodes/{index}/stop", post(stop_node))
        .route("/balancer/forwarded", get(forwarded))
        .with_state(harness);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("the harness");
    });
    HarnessServer { addr, task }
}

/// Stops node `index` as a dead node looks to its clients and to the other nodes: its streams
/// end, it refuses connections (the balancer skips it), and its broker is dropped, so it
/// leaves Redis.
async fn stop_node(
    State(harness): State<Harness>,
    Path(index): Path<usize>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let slot = harness
        .nodes
        .get(index)
        .ok_or((StatusCode::NOT_FOUND, format!("no node {index}")))?;
    let node = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .ok_or((StatusCode::CONFLICT, format!("node {index} is stopped")))?;
    let stopped = node.server.shut_down_within(STOP_TIMEOUT).await;
    drop(node.rt);
    if !stopped {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("node {index} did not stop within {STOP_TIMEOUT:?}"),
        ));
    }
    Ok(Json(json!({ "stopped": index })))
}

async fn forwarded(State(harness): State<Harness>) -> Json<Value> {
    let log: Vec<Value> = harness
        .balancer
        .forwarded()
        .into_iter()
        .map(|f| json!({ "method": f.method, "path": f.path, "upstream": f.upstream }))
        .collect();
    Json(Value::Array(log))
}

async fn run_node_test(file: &str) {
    let redis = RedisServer::start();
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let (rt, app) = control_app_with(|builder| builder.redis(&redis.url()).expect("a URL"));
        let server = TestServer::start(&rt, app).await;
        nodes.push(Node { rt, server });
    }
    eventually("every node is connected to Redis", || {
        nodes
            .iter()
            .all(|node| node.rt.engine_status() == EngineStatus::Connected)
    })
    .await;
    let urls: Vec<String> = nodes.iter().map(|node| node.server.url()).collect();
    let balancer =
        Arc::new(Balancer::start(nodes.iter().map(|node| node.server.addr).collect()).await);
    let nodes: Nodes = Arc::new(
        nodes
            .into_iter()
            .map(|node| Mutex::new(Some(node)))
            .collect(),
    );
    let harness = start_harness(Harness {
        nodes: Arc::clone(&nodes),
        balancer: Arc::clone(&balancer),
    })
    .await;

    node::run_node_test(
        &format!("nodes/{file}"),
        &[
            ("REALTIME_URL", balancer.url()),
            ("NODE_URLS", urls.join(",")),
            ("HARNESS_URL", format!("http://{}", harness.addr)),
        ],
        Duration::from_mins(2),
    )
    .await;
    drop(harness);
}

macro_rules! node_tests {
    ($($name:ident => $file:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_node_test($file).await;
        }
    )*};
}

node_tests! {
    sdk_clients_on_every_node_receive_sends_made_on_any_node => "delivery.test.mjs",
    sdk_filters_run_where_each_client_is => "filters.test.mjs",
    sdk_clients_of_a_stopped_node_reconnect_to_another_and_keep_receiving => "node_stopped.test.mjs",
}

#[test]
fn every_nodes_test_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(js_dir().join("nodes"))
        .expect("tests/js/nodes exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    let this = include_str!("js_nodes.rs");
    for file in &files {
        assert!(
            this.contains(&format!("=> \"{file}\"")),
            "{file} is not run by js_nodes.rs"
        );
    }
    assert_eq!(files.len(), 3);
}
