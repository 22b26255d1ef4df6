//! Waiting, bounded, for something the server does in the background.

use std::time::Duration;

/// Waits until `done` holds, checking every 10 ms for at most 10 s.
///
/// # Panics
///
/// If `done` still does not hold after 10 s: the test fails, naming `what`.
pub async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
