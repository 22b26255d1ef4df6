//! Running a Node.js test file (`node --test`) from a Rust test, for the tests that drive real
//! clients: the published PocketBase SDK, and a real browser through playwright-core.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The browser the browser tests drive: Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";

const HOW_TO_INSTALL: &str = "run the README's test command, `scripts/test-all.sh`, which \
                              installs it (the JS packages: `npm ci --prefix tests/js`; \
                              Chromium: `apt-get install -y chromium`)";

/// `tests/js`, where the Node tests and their `package.json` live.
#[must_use]
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Runs `node --test <file>` (relative to `tests/js`) with `env`, and fails the calling test
/// unless it ran at least one test and every test passed. Files under `browser/` also need
/// Chromium. Nothing is skipped when a tool is missing: the test fails and names the README's
/// test command, which installs it.
///
/// # Panics
///
/// When the file fails, runs no test, runs longer than `limit`, or cannot be started.
pub async fn run_node_test(file: &str, env: &[(&str, String)], limit: Duration) {
    let dir = js_dir();
    for package in ["pocketbase", "eventsource", "playwright-core"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "the JS test package `{package}` is not installed in tests/js: {HOW_TO_INSTALL}"
        );
    }
    if file.starts_with("browser/") {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing, and the browser tests need it: {HOW_TO_INSTALL}"
        );
    }
    let mut command = Command::new("node");
    command
        .args(["--test", "--test-reporter=spec", file])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that a timeout stops everything it started.
        .process_group(0);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run node ({err}): {HOW_TO_INSTALL}"));
    let group = child.id().expect("node's pid");
    let Ok(output) = tokio::time::timeout(limit, child.wait_with_output()).await else {
        // SIGTERM first: the helpers stop their example servers and Playwright its browser.
        signal_group(group, "TERM");
        tokio::time::sleep(Duration::from_secs(5)).await;
        signal_group(group, "KILL");
        panic!("{file} did not finish within {limit:?}");
    };
    let output = output.expect("node ran");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{file} failed:\n{report}");
    assert!(
        summary_count(&report, "pass").is_some_and(|n| n > 0),
        "{file} ran no test:\n{report}"
    );
    for none in ["fail", "cancelled", "skipped", "todo"] {
        assert_eq!(
            summary_count(&report, none),
            Some(0),
            "{file}: {none}\n{report}"
        );
    }
    // What the test printed (figures some tests measure): shown with `-- --nocapture`.
    println!("{report}");
}

/// Sends `signal` to every process of group `group`; best effort.
fn signal_group(group: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{group}"))
        .stderr(Stdio::null())
        .status();
}

/// The count on the spec reporter's summary line `ℹ <name> <count>`.
fn summary_count(report: &str, name: &str) -> Option<usize> {
    let prefix = format!("ℹ {name} ");
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(&prefix)?.trim().parse().ok())
}
