// Shared helpers for the Node.js half of the realtime test suite.
//
// Every test file imports this module. It needs REALTIME_URL (the server's
// origin, e.g. http://127.0.0.1:8090) and talks to:
//   - the PocketBase-compatible endpoints GET/POST /api/realtime, and
//   - the test control endpoints /test/send, /test/token, /test/drop,
//     /test/clients (see README.md).
//
// Rule: every wait has a timeout (default 5 s), so a broken server makes a
// test fail with a message instead of hanging the process.

import { setTimeout as sleep } from "node:timers/promises";
import { EventSource } from "eventsource";
import PocketBase from "pocketbase";

// --- environment -----------------------------------------------------------

const rawBase = process.env.REALTIME_URL;
if (!rawBase) {
    throw new Error(
        "REALTIME_URL is not set: point it at the realtime server's origin, " +
            "e.g. REALTIME_URL=http://127.0.0.1:8090 node --test tests/js/sdk/subscribe.test.mjs",
    );
}

/** The server's origin, without a trailing slash. */
export const BASE = rawBase.replace(/\/+$/, "");

/** Default timeout of every wait, in milliseconds. */
export const DEFAULT_TIMEOUT = 5000;

/** Short window used to assert that something does NOT happen. */
export const QUIET_WINDOW = 500;

// Node 20 has no global EventSource; the SDK needs one (without it, it crashes
// the process instead of rejecting). Install the npm package's, once.
//
// One wrinkle of eventsource 4.x: when the server ends a stream it calls
// `onerror` and only then arms its own 3 s reconnect timer, so the SDK's
// `close()` inside `onerror` cannot clear that timer; it fires as a no-op but
// keeps the process alive for 3 s. Running `onerror` one microtask later lets
// the SDK's close() clear it. Behaviour seen by the SDK is otherwise unchanged.
class NodeEventSource extends EventSource {
    get onerror() {
        return super.onerror;
    }
    set onerror(fn) {
        super.onerror =
            typeof fn === "function" ? (e) => queueMicrotask(() => fn.call(this, e)) : fn;
    }
}
if (!globalThis.EventSource || !(globalThis.EventSource.prototype instanceof EventSource)) {
    globalThis.EventSource = NodeEventSource;
}

export { sleep };

// --- waiting ---------------------------------------------------------------

/**
 * Waits for a promise, or polls a (possibly async) predicate until it returns
 * a truthy value. Resolves with the promise's value / the truthy value.
 * Rejects with a descriptive error after `ms` milliseconds. `what` is a
 * string or a function returning one (evaluated at timeout).
 */
export async function waitFor(predicateOrPromise, ms = DEFAULT_TIMEOUT, what = "condition") {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
            const desc = typeof what === "function" ? what() : what;
            const err = new Error(`Timed out after ${ms} ms waiting for ${desc}`);
            if (lastError) err.cause = lastError;
            reject(err);
        }, ms);
    });
    let lastError;
    let done = false;

    let work;
    if (typeof predicateOrPromise === "function") {
        work = (async () => {
            while (!done) {
                try {
                    const v = await predicateOrPromise();
                    if (v) return v;
                } catch (e) {
                    lastError = e; // keep polling; reported on timeout
                }
                await sleep(25);
            }
        })();
    } else {
        work = Promise.resolve(predicateOrPromise);
    }

    try {
        return await Promise.race([work, timeout]);
    } finally {
        done = true;
        clearTimeout(timer);
    }
}

/** Wraps a callback: records every call's argument; `.calls` is the array. */
export function recorder() {
    const calls = [];
    const fn = (data) => {
        calls.push(data);
    };
    fn.calls = calls;
    return fn;
}

/** Waits until a recorder has at least `n` calls; returns the calls array. */
export function waitForCalls(rec, n = 1, ms = DEFAULT_TIMEOUT, what = `${n} callback call(s)`) {
    return waitFor(() => rec.calls.length >= n && rec.calls, ms, what);
}

// --- SDK clients -------------------------------------------------------------

const trackedClients = new Set();

/** A fresh PocketBase SDK client for BASE, auto-cancellation off. Tracked for cleanup. */
export function newClient() {
    const pb = new PocketBase(BASE);
    pb.autoCancellation(false);
    trackedClients.add(pb);
    return pb;
}

/**
 * An SDK client that sends `Authorization: <token>` (the SDK sends the raw
 * token, no "Bearer") on its realtime POST.
 */
export function authedClient(token, id, collectionName = "users") {
    const pb = newClient();
    pb.authStore.save(token, { id, collectionName });
    return pb;
}

/**
 * Closes one SDK client's realtime connection: unsubscribes everything (the
 * SDK then closes its EventSource), and as a backstop calls the service's
 * `disconnect()` so no reconnect timer keeps the process alive.
 */
export async function closeClient(pb) {
    trackedClients.delete(pb);
    const rt = pb.realtime;
    rt.onDisconnect = undefined;
    try {
        await waitFor(rt.unsubscribe(), DEFAULT_TIMEOUT, "SDK unsubscribe()");
    } catch {
        // ignore: the backstop below closes the stream anyway
    }
    // `disconnect` is private in the TS types but a plain method at runtime.
    if (typeof rt.disconnect === "function") rt.disconnect();
}

// --- raw HTTP ----------------------------------------------------------------

/**
 * POST to /api/realtime. `body` is sent as is if it is a string, else JSON-encoded.
 * Content-Type defaults to application/json. Returns {status, text, headers}.
 */
export async function rawPost(body, headers = {}, ms = DEFAULT_TIMEOUT) {
    const h = { ...headers };
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) {
        h["Content-Type"] = "application/json";
    }
    const res = await fetch(`${BASE}/api/realtime`, {
        method: "POST",
        headers: h,
        body: typeof body === "string" ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(ms),
    });
    const text = await res.text();
    return { status: res.status, text, headers: res.headers };
}

const openStreams = new Set();

/**
 * Opens GET /api/realtime with fetch and reads until the first complete SSE
 * event (a block ending in "\n\n"). Returns
 *   { clientId, status, headers, firstEvent, text, readEvent(ms), close() }
 * where `firstEvent` is the raw text of the first event including its "\n\n",
 * `text` everything read so far, and `clientId` the value of its `id:` field.
 *
 * With keepOpen false (the default) the stream is aborted right after the
 * first event; with keepOpen true it stays open (the server keeps the client
 * registered) until close() is called. readEvent() reads the next event,
 * skipping comment-only blocks (heartbeats), and returns
 *   { raw, id, event, data } (data: the joined data lines, as text).
 */
export async function openRawStream({ keepOpen = false, timeout = DEFAULT_TIMEOUT, headers = {} } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(
        () => controller.abort(new Error(`raw stream: no first SSE event within ${timeout} ms`)),
        timeout,
    );
    let reader;
    let closed = false;
    const close = async () => {
        if (closed) return;
        closed = true;
        openStreams.delete(stream);
        controller.abort();
        try {
            await reader?.cancel();
        } catch {
            // already aborted
        }
    };
    const stream = { close };
    openStreams.add(stream);

    const decoder = new TextDecoder();
    let buffer = "";
    let all = "";

    const pull = async () => {
        const { value, done } = await reader.read();
        if (done) throw new Error("raw stream: server ended the stream");
        const chunk = decoder.decode(value, { stream: true });
        buffer += chunk;
        all += chunk;
    };

    try {
        const res = await fetch(`${BASE}/api/realtime`, {
            headers: { Accept: "text/event-stream", ...headers },
            signal: controller.signal,
        });
        stream.status = res.status;
        stream.headers = res.headers;
        if (!res.body) throw new Error(`raw stream: response ${res.status} has no body`);
        reader = res.body.getReader();
        while (!buffer.includes("\n\n")) await pull();
    } catch (e) {
        clearTimeout(timer);
        await close();
        throw e;
    }
    clearTimeout(timer);

    const end = buffer.indexOf("\n\n") + 2;
    const firstEvent = buffer.slice(0, end);
    buffer = buffer.slice(end);
    const idLine = firstEvent.split("\n").find((l) => l.startsWith("id:"));
    stream.clientId = idLine ? idLine.slice(3) : "";
    stream.firstEvent = firstEvent;
    stream.text = all;

    stream.readEvent = async (ms = DEFAULT_TIMEOUT) => {
        if (closed) throw new Error("raw stream: already closed");
        return waitFor(
            (async () => {
                for (;;) {
                    while (!buffer.includes("\n\n")) await pull();
                    const i = buffer.indexOf("\n\n") + 2;
                    const raw = buffer.slice(0, i);
                    buffer = buffer.slice(i);
                    const ev = parseEvent(raw);
                    if (ev) return ev;
                }
            })(),
            ms,
            "the next SSE event on a raw stream",
        );
    };

    if (!keepOpen) await close();
    return stream;
}

/** Parses one raw SSE block (LF line ends). Returns null for comment-only blocks. */
export function parseEvent(raw) {
    const ev = { raw, id: undefined, event: undefined, data: undefined };
    const data = [];
    let fields = 0;
    for (const line of raw.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const name = c === -1 ? line : line.slice(0, c);
        let value = c === -1 ? "" : line.slice(c + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        fields++;
        if (name === "id") ev.id = value;
        else if (name === "event") ev.event = value;
        else if (name === "data") data.push(value);
    }
    if (!fields) return null;
    if (data.length) ev.data = data.join("\n");
    ev.dataLines = data.length;
    return ev;
}

// --- control endpoints --------------------------------------------------------

async function control(method, path, body, headers = {}) {
    const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(DEFAULT_TIMEOUT) };
    if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
    }
    const res = await fetch(`${BASE}${path}`, init);
    const text = await res.text();
    if (!res.ok) {
        throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    }
    try {
        return JSON.parse(text);
    } catch {
        throw new Error(`${method} ${path} answered non-JSON: ${JSON.stringify(text)}`);
    }
}

/**
 * POST /test/send. `filter`: "default" | "all" | {room} | {user} | {superuser: true}
 * | {role} | {subscribed}. `auth`: the sender's Authorization header value
 * (used by "default"). Resolves with the number of clients reached.
 */
export async function send(topic, data, filter = "all", { auth } = {}) {
    const headers = auth ? { Authorization: auth } : {};
    const res = await control("POST", "/test/send", { topic, data, filter }, headers);
    if (typeof res.reached !== "number") {
        throw new Error(`/test/send: no numeric "reached" in ${JSON.stringify(res)}`);
    }
    return res.reached;
}

/** POST /test/token: {id, email?, username?, verified?, superuser?, role?} → token string. */
export async function mintToken(claims) {
    const res = await control("POST", "/test/token", claims);
    if (typeof res.token !== "string" || !res.token) {
        throw new Error(`/test/token: no token in ${JSON.stringify(res)}`);
    }
    return res.token;
}

/** POST /test/drop: ends every open stream server-side. Resolves with {dropped}. */
export function drop() {
    return control("POST", "/test/drop");
}

/** GET /test/clients → {clients: N, subscriptions: {clientId: [key, ...]}}. */
export function getClients() {
    return control("GET", "/test/clients");
}

/** Client ids (per GET /test/clients) whose subscription set contains exactly `key`. */
export function subscribersOf(state, key) {
    return Object.entries(state.subscriptions || {})
        .filter(([, keys]) => Array.isArray(keys) && keys.includes(key))
        .map(([id]) => id);
}

/** Polls GET /test/clients until `pred(state)` is truthy; resolves with the state. */
export function waitForClients(pred, ms = DEFAULT_TIMEOUT, what = "server client state") {
    let last;
    return waitFor(
        async () => {
            last = await getClients();
            return pred(last) && last;
        },
        ms,
        () => `${what} (last GET /test/clients: ${summarizeClients(last)})`,
    );
}

/** A short rendering of a GET /test/clients answer, for error messages. */
export function summarizeClients(state) {
    if (!state || typeof state !== "object") return JSON.stringify(state);
    const clip = (k) => (typeof k === "string" && k.length > 60 ? `${k.slice(0, 57)}...(${k.length} chars)` : k);
    const subs = {};
    for (const [id, keys] of Object.entries(state.subscriptions || {})) {
        const list = Array.isArray(keys) ? keys : [];
        subs[id] = list.slice(0, 5).map(clip);
        if (list.length > 5) subs[id].push(`...(${list.length} keys)`);
    }
    const text = JSON.stringify({ clients: state.clients, subscriptions: subs });
    return text.length > 1500 ? `${text.slice(0, 1500)}...` : text;
}

/** Waits until exactly `n` server clients hold subscription key `key`; resolves with their ids. */
export async function waitForSubscribers(key, n, ms = DEFAULT_TIMEOUT) {
    const state = await waitForClients(
        (s) => subscribersOf(s, key).length === n,
        ms,
        `${n} client(s) subscribed to ${JSON.stringify(key)}`,
    );
    return subscribersOf(state, key);
}

/** Waits until the server reports no connected clients. */
export function waitForNoClients(ms = DEFAULT_TIMEOUT) {
    return waitForClients((s) => s.clients === 0, ms, "the server to report 0 clients");
}

// --- cleanup -----------------------------------------------------------------

/**
 * Closes every SDK client made by newClient()/authedClient() and every raw
 * stream still open, then waits until the server reports 0 clients so the
 * next test starts from a clean server. Use in afterEach().
 */
export async function cleanup({ waitIdle = true } = {}) {
    const pbs = [...trackedClients];
    const streams = [...openStreams];
    await Promise.all([...pbs.map(closeClient), ...streams.map((s) => s.close())]);
    if (waitIdle) await waitForNoClients();
}

/** 40 random characters of [A-Za-z0-9] (for an unknown client id). */
export function randomId(len = 40) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
    return s;
}
