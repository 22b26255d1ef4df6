// Shared code of the browser tests: a headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), an example binary run on a free port with a fresh data directory, and
// waits that always time out. Child processes and temporary directories are cleaned up when
// this process exits, however it exits.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

export { sleep };

/** The browser the tests drive: Debian's `chromium` package. */
export const CHROMIUM = "/usr/bin/chromium";

/** Default timeout of every wait, in milliseconds. */
export const DEFAULT_TIMEOUT = 10_000;

/** How long an example may take to answer `GET /` after it was started. */
export const READY_TIMEOUT = 15_000;

/** How long an example may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_TIMEOUT = 5_000;

// --- cleanup on exit -------------------------------------------------------------------

const children = new Set();
const tempDirs = new Set();

function cleanupNow() {
    for (const child of children) {
        try {
            child.kill("SIGKILL");
        } catch {
            // already gone
        }
    }
    children.clear();
    for (const dir of tempDirs) {
        try {
            rmSync(dir, { recursive: true, force: true });
        } catch {
            // best effort
        }
    }
    tempDirs.clear();
}

process.on("exit", cleanupNow);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
    process.once(signal, () => {
        cleanupNow();
        process.exit(code);
    });
}

// --- waiting -----------------------------------------------------------------------------

/**
 * Resolves with `promise`'s value, or rejects after `ms` milliseconds with an error naming
 * `what` (a string, or a function returning one, evaluated at timeout).
 */
export async function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
            const desc = typeof what === "function" ? what() : what;
            reject(new Error(`Timed out after ${ms} ms waiting for ${desc}`));
        }, ms);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/**
 * Polls `check` (possibly async) every 50 ms until it returns a truthy value, which it
 * resolves with. Rejects after `ms` with `what` (string or function) and the last error
 * `check` threw, if any.
 */
export async function waitFor(check, ms = DEFAULT_TIMEOUT, what = "a condition") {
    const deadline = Date.now() + ms;
    let lastError;
    for (;;) {
        try {
            const value = await check();
            if (value) return value;
        } catch (err) {
            lastError = err;
        }
        if (Date.now() >= deadline) {
            const desc = typeof what === "function" ? what() : what;
            const err = new Error(`Timed out after ${ms} ms waiting for ${desc}`);
            if (lastError) err.cause = lastError;
            throw err;
        }
        await sleep(50);
    }
}

// --- the browser -------------------------------------------------------------------------

/** Launches headless Chromium. Close it (`browser.close()`) in an `after` hook. */
export async function launchBrowser() {
    if (!existsSync(CHROMIUM)) {
        throw new Error(
            `${CHROMIUM} is missing: the browser tests need Debian's chromium package ` +
                "(scripts/test-all.sh installs it: apt-get install -y chromium)",
        );
    }
    return chromium.launch({
        executablePath: CHROMIUM,
        args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        timeout: 30_000,
    });
}

/**
 * Records what a page does that a test may want to forbid: dialogs (dismissed at once),
 * uncaught errors, and console messages. Returns `{dialogs, pageErrors, console}`.
 */
export function watchPage(page) {
    const seen = { dialogs: [], pageErrors: [], console: [] };
    page.on("dialog", (dialog) => {
        seen.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (err) => seen.pageErrors.push(String(err?.stack ?? err)));
    page.on("console", (msg) => seen.console.push(`${msg.type()}: ${msg.text()}`));
    return seen;
}

// --- example servers ---------------------------------------------------------------------

/** A TCP port that was free a moment ago on 127.0.0.1 (listen on port 0, then close). */
export function freePort() {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.unref();
        probe.once("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address();
            probe.close((err) => (err ? reject(err) : resolve(port)));
        });
    });
}

/**
 * Runs an example binary: `<binPath> --addr 127.0.0.1:<port> --data-dir <dataDir>`, on a
 * free port and a fresh temporary data directory unless given, and waits until `GET /`
 * answers 2xx. Resolves with
 *
 *   { url, port, dataDir, pid(), output(), stop(), restart(), dispose() }
 *
 * - `stop()` sends SIGTERM, then SIGKILL if the process has not exited within
 *   `STOP_TIMEOUT`; resolves with `{code, signal, forced}` (`forced`: SIGKILL was needed).
 * - `restart()` stops it and starts it again on the same port and data directory; resolves
 *   with what `stop()` did once the new process answers `GET /`.
 * - `dispose()` stops it and removes the data directory if this function created it.
 * - `output()` is the tail of the process's stdout and stderr, for error messages.
 */
export async function startExample(binPath, { port, dataDir } = {}) {
    if (!binPath || !existsSync(binPath)) {
        throw new Error(`the example binary ${JSON.stringify(binPath)} does not exist`);
    }
    port ??= await freePort();
    let ownDir = false;
    if (!dataDir) {
        dataDir = mkdtempSync(path.join(os.tmpdir(), "realtime-example-"));
        tempDirs.add(dataDir);
        ownDir = true;
    }
    const url = `http://127.0.0.1:${port}`;
    const name = path.basename(binPath);
    let log = "";
    let current = null;

    const record = (chunk) => {
        log = (log + chunk).slice(-16_384);
    };

    function launch() {
        const child = spawn(binPath, ["--addr", `127.0.0.1:${port}`, "--data-dir", dataDir], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        children.add(child);
        child.stdout.on("data", record);
        child.stderr.on("data", record);
        child.exited = new Promise((resolve) => {
            child.once("exit", (code, signal) => {
                children.delete(child);
                resolve({ code, signal });
            });
            child.once("error", (err) => {
                children.delete(child);
                record(`\n[spawn failed: ${err.message}]\n`);
                resolve({ code: null, signal: null, error: err });
            });
        });
        child.done = null;
        child.exited.then((result) => {
            child.done = result;
        });
        current = child;
        return child;
    }

    async function waitReady(child) {
        const deadline = Date.now() + READY_TIMEOUT;
        for (;;) {
            if (child.done) {
                throw new Error(
                    `${name} exited (${JSON.stringify(child.done)}) before answering ` +
                        `GET ${url}/; its output:\n${log}`,
                );
            }
            try {
                const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(1_000) });
                await response.arrayBuffer();
                if (response.ok) return;
            } catch {
                // not listening yet
            }
            if (Date.now() >= deadline) {
                throw new Error(
                    `${name} did not answer GET ${url}/ within ${READY_TIMEOUT} ms; ` +
                        `its output:\n${log}`,
                );
            }
            await sleep(50);
        }
    }

    async function start() {
        const child = launch();
        try {
            await waitReady(child);
        } catch (err) {
            await stop();
            throw err;
        }
    }

    async function stop() {
        const child = current;
        current = null;
        if (!child) return { code: null, signal: null, forced: false };
        if (child.done) return { ...child.done, forced: false };
        child.kill("SIGTERM");
        let result = await Promise.race([child.exited, sleep(STOP_TIMEOUT).then(() => null)]);
        let forced = false;
        if (!result) {
            forced = true;
            child.kill("SIGKILL");
            result = await withTimeout(child.exited, 5_000, `${name} to die after SIGKILL`);
        }
        return { ...result, forced };
    }

    await start();
    return {
        url,
        port,
        dataDir,
        pid: () => current?.pid,
        output: () => log,
        stop,
        async restart() {
            const stopped = await stop();
            await start();
            return stopped;
        },
        async dispose() {
            const stopped = await stop();
            if (ownDir) {
                rmSync(dataDir, { recursive: true, force: true });
                tempDirs.delete(dataDir);
            }
            return stopped;
        },
    };
}
