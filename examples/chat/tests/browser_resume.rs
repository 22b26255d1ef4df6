//! The chat in headless Chromium when a page loses its connection while another posts
//! (`tests/js/browser/chat-resume.test.mjs`): it comes back with every message once, in order,
//! without reloading, whether the browser retries by itself (`Last-Event-ID`) or the extension
//! opens a new stream (`?lastEventId=`); after missing more than the chat keeps, it reloads
//! its message list (`PB_RESYNC`, `sse:resync`).

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_cut_off_while_another_posts_misses_nothing() {
    let bin = env!("CARGO_BIN_EXE_example-chat").to_owned();
    realtime_tests::node::run_node_test(
        "browser/chat-resume.test.mjs",
        &[("EXAMPLE_BIN", bin)],
        Duration::from_mins(5),
    )
    .await;
}
