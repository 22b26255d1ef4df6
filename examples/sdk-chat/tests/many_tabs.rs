//! Ten tabs of the SDK chat in one headless Chromium over plain HTTP/1.1, sharing one stream
//! through `/_realtime/pocketbase-tabs.js` (`tests/js/browser/sdk-chat-tabs.test.mjs`).

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sdk_tabs_share_one_stream_and_survive_its_tab_closing() {
    realtime_tests::node::run_node_test(
        "browser/sdk-chat-tabs.test.mjs",
        &[(
            "EXAMPLE_BIN",
            env!("CARGO_BIN_EXE_example-sdk-chat").to_owned(),
        )],
        Duration::from_mins(3),
    )
    .await;
}
