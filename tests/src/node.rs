//! Running a Node.js test file (`node --test`) from a Rust test, for the tests that drive real
//! clients: the published PocketBase SDK, and a real browser through playwright-core.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// `tests/js`, where the Node tests and their `package.json` live.
#[must_use]
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Runs `node --test <file>` (relative to `tests/js`) with `env`, and fails the calling test
/// unless it ran at least one test and all passed. Needs the packages installed
/// (`npm ci --prefix tests/js`), and, for browser tests, Debian's Chromium: the README's test
/// command, `scripts/test-all.sh`, installs both. Nothing is skipped when they are missing.
///
/// # Panics
///
/// When the file fails, runs no test, runs longer than `limit`, or cannot be started.
pub async fn run_node_test(file: &str, env: &[(&str, String)], limit: Duration) {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/pocketbase").is_dir()
            && dir.join("node_modules/playwright-core").is_dir(),
        "the JS test packages are not installed: run `npm ci --prefix tests/js` \
         (the README's test command, scripts/test-all.sh, does)"
    );
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(file)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .expect("node must be installed to run the JS tests");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{file} did not finish within {limit:?}"))
        .expect("node ran");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{file} failed:\n{report}");
    let passed = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("ℹ pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(passed > 0, "{file} ran no test:\n{report}");
    assert!(
        report.contains("ℹ fail 0"),
        "{file} reported failures:\n{report}"
    );
}
