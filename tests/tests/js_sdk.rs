//! The published PocketBase JS SDK against our endpoint: each `tests/js/sdk/*.test.mjs` runs
//! under Node's test runner against a fresh control app (see `tests/js/README.md`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use realtime_tests::control_app::control_app;
use realtime_tests::server::TestServer;
use tokio::process::Command;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

async fn run_node_test(file: &str) {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/pocketbase").is_dir(),
        "the JS dependencies are not installed: run `npm ci --prefix tests/js` \
         (the README's test command, scripts/test-all.sh, does)"
    );
    let (_rt, app) = control_app();
    let server = TestServer::start(app).await;
    let child = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(format!("sdk/{file}"))
        .current_dir(&dir)
        .env("REALTIME_URL", server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node must be installed to run the JS SDK tests");
    let output = tokio::time::timeout(Duration::from_mins(2), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{file} did not finish within 120 s"))
        .expect("node ran");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{file} failed:\n{report}");
    assert!(
        report.contains("# pass") || report.contains("ℹ pass"),
        "{file} ran no test:\n{report}"
    );
    let failed_none = report.contains("ℹ fail 0") || report.contains("# fail 0");
    assert!(failed_none, "{file} reported failures:\n{report}");
}

macro_rules! sdk_tests {
    ($($name:ident => $file:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_node_test($file).await;
        }
    )*};
}

sdk_tests! {
    sdk_subscribe_receives_json => "subscribe.test.mjs",
    sdk_options_keys_receive_topic_sends => "options.test.mjs",
    sdk_unsubscribe_closes_the_stream => "unsubscribe.test.mjs",
    sdk_reconnects_after_server_drop => "reconnect.test.mjs",
    sdk_sees_pocketbase_error_bodies => "errors.test.mjs",
    sdk_default_and_custom_filters => "filters.test.mjs",
}

#[test]
fn every_sdk_test_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(js_dir().join("sdk"))
        .expect("tests/js/sdk exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    let this = include_str!("js_sdk.rs");
    for file in &files {
        assert!(
            this.contains(&format!("=> \"{file}\"")),
            "{file} is not run by js_sdk.rs"
        );
    }
    assert_eq!(files.len(), 6);
}
