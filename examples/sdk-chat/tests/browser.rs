//! The SDK chat in real browsers: runs `tests/js/browser/sdk-chat.test.mjs` (headless Chromium
//! through playwright-core) against this package's binary: two pages chat, markup stays text,
//! both survive a server restart, and the history comes back from SQLite.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_pages_chat_through_the_sdk_and_survive_a_restart() {
    let bin = env!("CARGO_BIN_EXE_example-sdk-chat").to_owned();
    realtime_tests::node::run_node_test(
        "browser/sdk-chat.test.mjs",
        &[("EXAMPLE_BIN", bin)],
        Duration::from_mins(3),
    )
    .await;
}
