//! When an example stops.

/// Ctrl-C, or SIGTERM (what service managers and the browser tests send).
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = terminate.recv() => {}
            }
        }
        Err(err) => {
            eprintln!("no SIGTERM handler ({err}); Ctrl-C stops the server");
            let _ = ctrl_c.await;
        }
    }
}
