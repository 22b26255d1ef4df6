//! The published PocketBase JS SDK against our endpoint: each `tests/js/sdk/*.test.mjs` runs
//! under Node's test runner against a fresh control app (see `tests/js/README.md`).

use std::time::Duration;

use realtime_tests::control_app::control_app;
use realtime_tests::node::{self, js_dir};
use realtime_tests::server::TestServer;

async fn run_node_test(file: &str) {
    let (rt, app) = control_app();
    let server = TestServer::start(&rt, app).await;
    let path = format!("sdk/{file}");
    node::run_node_test(
        &path,
        &[("REALTIME_URL", server.url())],
        Duration::from_mins(2),
    )
    .await;
}

macro_rules! sdk_tests {
    ($($name:ident => $file:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_node_test($file).await;
        }
    )*};
}

sdk_tests! {
    sdk_subscribe_receives_json => "subscribe.test.mjs",
    sdk_options_keys_receive_topic_sends => "options.test.mjs",
    sdk_unsubscribe_closes_the_stream => "unsubscribe.test.mjs",
    sdk_reconnects_after_server_drop => "reconnect.test.mjs",
    sdk_sees_pocketbase_error_bodies => "errors.test.mjs",
    sdk_default_and_custom_filters => "filters.test.mjs",
    sdk_resumes_with_the_served_helper => "resume.test.mjs",
}

#[test]
fn every_sdk_test_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(js_dir().join("sdk"))
        .expect("tests/js/sdk exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    let this = include_str!("js_sdk.rs");
    for file in &files {
        assert!(
            this.contains(&format!("=> \"{file}\"")),
            "{file} is not run by js_sdk.rs"
        );
    }
    assert_eq!(files.len(), 7);
}
