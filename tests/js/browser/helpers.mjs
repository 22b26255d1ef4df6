// Shared code of the browser tests: a headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), an example binary run on a free port with a fresh data directory, and
// waits that always time out. Child processes and temporary directories are cleaned up when
// this process exits, however it exits.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
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
 * A new page of `context` at `origin`'s root, with `watchPage`'s records:
 * `{name, page, seen}`, every wait on the page bounded by `DEFAULT_TIMEOUT`.
 */
export async function openPage(context, origin, name) {
    const page = await context.newPage();
    page.setDefaultTimeout(DEFAULT_TIMEOUT);
    const seen = watchPage(page);
    await page.goto(`${origin}/`);
    return { name, page, seen };
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

// --- what the chats show -------------------------------------------------------------------

/** The texts of the messages a chat page shows (both examples mark them `.message .text`). */
export function shownTexts(page) {
    return page.$$eval("#messages .message .text", (items) => items.map((item) => item.textContent));
}

/** Long enough for a duplicate to show up after the original. */
const DUPLICATE_WINDOW = 1_000;

/**
 * Waits until every tab of `tabs` ({name, page}) shows each text of `sent`, then checks over a
 * quiet window that each shows each exactly once.
 */
export async function expectEachOnce(tabs, sent, ms = DEFAULT_TIMEOUT) {
    for (const tab of tabs) {
        let last = [];
        await waitFor(
            async () => {
                last = await shownTexts(tab.page);
                return sent.every((text) => last.includes(text));
            },
            ms,
            () => `${tab.name} to show ${JSON.stringify(sent.filter((t) => !last.includes(t)))}`,
        );
    }
    await sleep(DUPLICATE_WINDOW);
    for (const tab of tabs) {
        const shown = await shownTexts(tab.page);
        for (const text of sent) {
            if (shown.filter((t) => t === text).length !== 1) {
                throw new Error(`${tab.name} shows ${JSON.stringify(text)} ${shown.filter((t) => t === text).length} times, not once`);
            }
        }
    }
}

/** Posts `text` through the HTMX chat's own form, as a user does, and waits for it to clear. */
export async function postThroughForm(tab, text) {
    await tab.page.fill("#message-input", text);
    await tab.page.click("#send button");
    await waitFor(
        async () => {
            const error = await tab.page.$eval("#send .error", (p) => p.textContent);
            if (error) throw new Error(`${tab.name}'s post failed: ${error}`);
            return tab.page.$eval("#message-input", (input) => input.value === "");
        },
        DEFAULT_TIMEOUT,
        () => `${tab.name}'s form to be reset after a successful post`,
    );
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
 * Runs an example binary: `<binPath> --addr 127.0.0.1:<port> --data-dir <dataDir> <args>`,
 * on a free port and a fresh temporary data directory unless given, and waits until `GET /`
 * answers 2xx. Resolves with
 *
 *   { url, port, dataDir, pid(), output(), stop(), kill(), restart(), dispose() }
 *
 * - `stop()` sends SIGTERM, then SIGKILL if the process has not exited within
 *   `STOP_TIMEOUT`; resolves with `{code, signal, forced}` (`forced`: SIGKILL was needed).
 * - `kill()` sends SIGKILL and resolves with the exit once the process is gone.
 * - `restart()` stops it and starts it again on the same port and data directory; resolves
 *   with what `stop()` did once the new process answers `GET /`.
 * - `dispose()` stops it and removes the data directory if this function created it.
 * - `output()` is the tail of the process's stdout and stderr, for error messages.
 */
export async function startExample(binPath, { port, dataDir, args = [], tls = false } = {}) {
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
    // With `tls`, the example makes its own certificate (`--tls-self-signed true`) and serves
    // HTTPS, HTTP/2 included; the readiness check then does not verify the certificate.
    if (tls) args = [...args, "--tls-self-signed", "true"];
    const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
    const name = path.basename(binPath);
    let log = "";
    let current = null;

    const record = (chunk) => {
        log = (log + chunk).slice(-16_384);
    };

    function launch() {
        const child = spawn(binPath, ["--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, ...args], {
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
                if (await answers(`${url}/`)) return;
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
        /** Ends the process at once (SIGKILL), as a crash does: nothing is closed gracefully. */
        async kill() {
            const child = current;
            current = null;
            if (!child) return null;
            if (child.done) return child.done;
            child.kill("SIGKILL");
            return withTimeout(child.exited, 5_000, `${name} to die after SIGKILL`);
        },
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

/**
 * What the example process `server` holds now: its resident memory (KiB) and its established
 * TCP connections on its listening port (what the browser, or a proxy for it, keeps open).
 */
export function serverFigures(server) {
    const status = readFileSync(`/proc/${server.pid()}/status`, "utf8");
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    const hexPort = server.port.toString(16).toUpperCase().padStart(4, "0");
    let connections = 0;
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        let text = "";
        try {
            text = readFileSync(table, "utf8");
        } catch {
            continue;
        }
        for (const line of text.split("\n").slice(1)) {
            const fields = line.trim().split(/\s+/);
            // local address:port, remote, state (01 = ESTABLISHED)
            if (fields.length > 3 && fields[1].endsWith(`:${hexPort}`) && fields[3] === "01") connections++;
        }
    }
    return { rssKiB, connections };
}

/** Whether `GET url` answers 2xx within a second (over HTTPS, any certificate will do). */
async function answers(url) {
    if (url.startsWith("http:")) {
        const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        return response.ok;
    }
    return new Promise((resolve, reject) => {
        const request = https.get(url, { rejectUnauthorized: false, timeout: 1_000 }, (response) => {
            response.resume();
            resolve(response.statusCode >= 200 && response.statusCode < 300);
        });
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", reject);
    });
}

// --- a connection the test can cut ------------------------------------------------------

/** The most requests a proxy remembers. */
const PROXY_LOG = 500;

/**
 * A TCP proxy on 127.0.0.1 to the server at `targetPort`, for a page whose connection a test
 * cuts: the browser's own network emulation (`context.setOffline`) leaves an open
 * EventSource stream untouched, whereas closing the proxy's sockets is what a lost network
 * does to both ends, so the server sees the client leave. Resolves with
 *
 *   { url, port, requests, connectIds, cut(mode), restore(), stallStream(), releaseStream(), close() }
 *
 * - `cut("reset")` resets every open connection and every new one until `restore()` (the
 *   network is gone); `cut("unavailable")` closes the open ones and answers every new request
 *   `503` (a proxy in front of a restarting server): an EventSource then gives up, and the
 *   page must open a new one itself.
 * - `requests`: every request seen, oldest first, as `{ method, target, headers, at }`
 *   (`headers` by lower-case name; `at`: `Date.now()` when its head arrived).
 * - `connectIds`: the client id of every `PB_CONNECT` the server sent through the proxy.
 * - `stallStream()` stops passing on what the server sends on the connection of the latest
 *   `PB_CONNECT` (a slow network: it waits in the proxy, other requests go through) until
 *   `releaseStream()`.
 */
export async function startCutProxy(targetPort) {
    const pairs = new Set();
    const requests = [];
    const connectIds = [];
    let mode = "open";
    let streamPair = null; // the connection the latest PB_CONNECT came on
    let stalled = null;

    const closePair = (pair, reset) => {
        pairs.delete(pair);
        if (reset) pair.client.resetAndDestroy();
        else pair.client.destroy();
        pair.upstream.destroy();
    };

    const server = net.createServer((client) => {
        client.on("error", () => {});
        if (mode === "reset") {
            client.resetAndDestroy();
            return;
        }
        if (mode === "unavailable") {
            const read = readRequests(requests);
            client.once("data", (chunk) => {
                read(chunk);
                client.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            });
            return;
        }
        const upstream = net.connect(targetPort, "127.0.0.1");
        upstream.on("error", () => {});
        const pair = { client, upstream };
        pairs.add(pair);
        const end = () => pairs.has(pair) && closePair(pair, false);
        client.on("close", end);
        upstream.on("close", end);
        client.on("data", readRequests(requests));
        const readId = readConnectId(connectIds);
        upstream.on("data", (chunk) => {
            if (readId(chunk)) streamPair = pair;
        });
        client.pipe(upstream);
        upstream.pipe(client);
    });
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address();
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        connectIds,
        cut(how = "reset") {
            if (how !== "reset" && how !== "unavailable") throw new Error(`unknown cut ${how}`);
            mode = how;
            for (const pair of [...pairs]) closePair(pair, how === "reset");
        },
        restore() {
            mode = "open";
        },
        stallStream() {
            if (!streamPair || !pairs.has(streamPair)) throw new Error("no open stream to stall");
            stalled = streamPair;
            stalled.upstream.unpipe(stalled.client);
            stalled.upstream.pause();
        },
        releaseStream() {
            if (!stalled) return;
            stalled.upstream.pipe(stalled.client);
            stalled.upstream.resume();
            stalled = null;
        },
        close() {
            mode = "reset";
            for (const pair of [...pairs]) closePair(pair, true);
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}

/** Reads the request heads of one connection's bytes into `log` (bodies are skipped). */
function readRequests(log) {
    let buffer = "";
    let skip = 0; // body bytes still to pass over
    return (chunk) => {
        buffer += chunk.toString("latin1");
        for (;;) {
            if (skip) {
                const n = Math.min(skip, buffer.length);
                buffer = buffer.slice(n);
                skip -= n;
                if (skip) return;
            }
            const end = buffer.indexOf("\r\n\r\n");
            if (end < 0) {
                if (buffer.length > 65_536) buffer = ""; // not HTTP we can read: give up on it
                return;
            }
            const [line, ...fields] = buffer.slice(0, end).split("\r\n");
            buffer = buffer.slice(end + 4);
            const [method, target] = line.split(" ");
            const headers = {};
            for (const field of fields) {
                const colon = field.indexOf(":");
                if (colon > 0) headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
            }
            skip = Number(headers["content-length"] ?? 0) || 0;
            log.push({ method, target, headers, at: Date.now() });
            if (log.length > PROXY_LOG) log.shift();
        }
    };
}

/** Appends to `ids` the client id of every `PB_CONNECT` in one connection's responses. */
/** Collects the ids of `PB_CONNECT` events; each call says whether its chunk ended one. */
function readConnectId(ids) {
    const pattern = /id:([A-Za-z0-9]+)\nevent:PB_CONNECT\n/g;
    let tail = ""; // the end of what came before, in case an event is split across chunks
    return (chunk) => {
        const text = tail + chunk.toString("latin1");
        let end = 0;
        for (const match of text.matchAll(pattern)) {
            ids.push(match[1]);
            end = match.index + match[0].length;
        }
        tail = text.slice(Math.max(end, text.length - 256));
        return end > 0;
    };
}

/**
 * Resolves once the server at `url` no longer knows the realtime client `clientId` (a
 * subscription `POST` for it answers 404): it saw that stream end. Rejects after `ms`.
 */
export async function waitForServerToForget(url, clientId, ms = DEFAULT_TIMEOUT) {
    let last;
    await waitFor(
        async () => {
            const response = await fetch(`${url}/api/realtime`, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ clientId, subscriptions: [] }),
                signal: AbortSignal.timeout(2_000),
            });
            last = `${response.status} ${await response.text()}`;
            return response.status === 404;
        },
        ms,
        () => `the server to forget client ${clientId} (last answer: ${last})`,
    );
}
