//! The chat deployed as docs/deploy.md says, behind Debian's `nginx` with TLS and HTTP/2
//! toward the browser, on one instance and on two sharing Redis, with a rolling restart of
//! one (`tests/js/browser/chat-nginx.test.mjs`, in headless Chromium and with the PocketBase
//! SDK). This side makes the test's self-signed certificate and starts Redis.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use realtime_tests::redis::RedisServer;

/// A temporary directory holding `cert.pem` and `key.pem`, removed when dropped.
struct Certificate(PathBuf);

impl Certificate {
    /// A self-signed certificate for 127.0.0.1 and localhost, valid for a day.
    fn make() -> Self {
        let dir = std::env::temp_dir().join(format!("realtime-nginx-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("make the certificate's directory");
        let output = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .output()
            .expect("run openssl (scripts/test-all.sh installs it)");
        assert!(
            output.status.success(),
            "openssl could not make the certificate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self(dir)
    }

    fn dir(&self) -> &Path {
        &self.0
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_works_behind_nginx_over_tls_and_http2_on_one_instance_and_on_two() {
    let certificate = Certificate::make();
    let redis = RedisServer::start();
    let dir = certificate.dir().display().to_string();
    realtime_tests::node::run_node_test(
        "browser/chat-nginx.test.mjs",
        &[
            ("EXAMPLE_BIN", env!("CARGO_BIN_EXE_example-chat").to_owned()),
            ("REDIS_URL", redis.url()),
            ("TLS_DIR", dir.clone()),
            ("NODE_EXTRA_CA_CERTS", format!("{dir}/cert.pem")),
        ],
        Duration::from_mins(4),
    )
    .await;
}
