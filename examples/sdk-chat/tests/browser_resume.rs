//! The SDK chat in headless Chromium when a page loses its connection while another posts
//! (`tests/js/browser/sdk-chat-resume.test.mjs`): with `/_realtime/pocketbase-tabs.js`
//! loaded before the SDK, it comes back with every message once, in order, without reloading
//! its history; after missing more than the server keeps, `PB_RESYNC` reloads the history.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_page_cut_off_while_another_posts_misses_nothing() {
    let bin = env!("CARGO_BIN_EXE_example-sdk-chat").to_owned();
    realtime_tests::node::run_node_test(
        "browser/sdk-chat-resume.test.mjs",
        &[("EXAMPLE_BIN", bin)],
        Duration::from_mins(5),
    )
    .await;
}
