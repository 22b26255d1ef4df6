//! Ten tabs of the chat in one headless Chromium over the chat's own TLS, where the browser
//! speaks HTTP/2 and every tab keeps its own stream (`tests/js/browser/chat-tabs-h2.test.mjs`).

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tabs_over_the_built_in_tls_and_http2_each_with_its_own_stream() {
    realtime_tests::node::run_node_test(
        "browser/chat-tabs-h2.test.mjs",
        &[("EXAMPLE_BIN", env!("CARGO_BIN_EXE_example-chat").to_owned())],
        Duration::from_mins(3),
    )
    .await;
}
