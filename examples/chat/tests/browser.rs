//! The chat in headless Chromium (`tests/js/browser/chat.test.mjs`): two users chat live,
//! markup stays text, notices stay with their sender, and pages survive a server restart.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_works_in_a_real_browser() {
    let bin = env!("CARGO_BIN_EXE_example-chat").to_owned();
    realtime_tests::node::run_node_test(
        "browser/chat.test.mjs",
        &[("EXAMPLE_BIN", bin)],
        Duration::from_mins(3),
    )
    .await;
}
