//! Ten tabs of the chat in one headless Chromium over plain HTTP/1.1, sharing one event stream
//! (`tests/js/browser/chat-tabs.test.mjs`): posting from any tab works, every tab shows every
//! message once, and closing the tab that holds the stream loses nothing.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tabs_share_one_stream_and_survive_its_tab_closing() {
    realtime_tests::node::run_node_test(
        "browser/chat-tabs.test.mjs",
        &[("EXAMPLE_BIN", env!("CARGO_BIN_EXE_example-chat").to_owned())],
        Duration::from_mins(3),
    )
    .await;
}
