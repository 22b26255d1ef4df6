// The SDK with the resume helper the endpoint serves (/_realtime/pocketbase-resume.js): after
// a drop, its reconnect carries ?lastEventId= and the callbacks get every missed message once,
// in order, before live ones; what the server cannot tell reaches
// pb.realtime.subscribe("PB_RESYNC", fn). Without the helper nothing is replayed.
//
// The control app keeps a history of every topic (1000 sends; "short": 3).
import { afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import {
    BASE,
    QUIET_WINDOW,
    cleanup,
    drop,
    newClient,
    recorder,
    send,
    sleep,
    waitFor,
    waitForCalls,
    waitForSubscribers,
} from "../helpers.mjs";

/** Where the endpoint serves the helper (`axum_realtime::endpoint::SDK_RESUME_PATH`). */
const RESUME_PATH = "/_realtime/pocketbase-resume.js";

/** The topic whose history keeps only 3 sends (`SHORT_HISTORY_TOPIC`). */
const SHORT = "short";

/** How long the SDK may take to come back: its backoff (200, 300, 500, 1000 ms...). */
const RECONNECT_TIMEOUT = 15_000;

// helpers.mjs installed the `eventsource` package's EventSource on globalThis: the one the
// helper must wrap.
const Stock = globalThis.EventSource;
let resumeScript;

before(async () => {
    const res = await fetch(`${BASE}${RESUME_PATH}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, `GET ${RESUME_PATH}`);
    assert.match(res.headers.get("content-type") ?? "", /javascript/);
    resumeScript = await res.text();
});

/**
 * Runs the served helper in this process's global scope, as a page's <script> would, over
 * the stock EventSource. Each test gets a fresh copy: the helper remembers the last id of the
 * whole page (here: process), which must not leak from one test into the next.
 */
function installResume() {
    globalThis.EventSource = Stock;
    vm.runInThisContext(resumeScript, { filename: RESUME_PATH });
    assert.notEqual(globalThis.EventSource, Stock, "the helper replaced globalThis.EventSource");
    assert.equal(globalThis.EventSource.resumesRealtime, true);
}

afterEach(async () => {
    await cleanup();
    globalThis.EventSource = Stock;
});

/**
 * Makes `pb`'s subscription POSTs fail, as a network failure would, until the returned
 * `release()` is called. `failed` counts the POSTs refused so far. The SDK then treats its
 * new stream as broken and reconnects (after its backoff), so a test can keep it from
 * subscribing again for as long as it needs, without relying on timing.
 */
function failSubscriptions(pb) {
    const gate = { failed: 0, held: true };
    pb.beforeSend = (url, options) => {
        if (gate.held && url.endsWith("/api/realtime") && options.method === "POST") {
            gate.failed++;
            options = {
                ...options,
                fetch: () => Promise.reject(new TypeError("network error (made by the test)")),
            };
        }
        return { url, options };
    };
    gate.release = () => {
        gate.held = false;
    };
    return gate;
}

/** The URL of the SDK's current EventSource (a private field of the SDK, read for evidence). */
function streamUrl(pb) {
    return pb.realtime.eventSource?.url ?? "";
}

/** Waits until the SDK is connected again under a client id other than `oldId`. */
async function waitReconnected(pb, oldId) {
    await waitFor(
        () => pb.realtime.isConnected && pb.realtime.clientId && pb.realtime.clientId !== oldId,
        RECONNECT_TIMEOUT,
        "the SDK to reconnect under a new client id",
    );
    await waitForSubscribers("chat", 1);
}

test("a drop in the middle of a burst of 500: every message once, in order, then live ones", async () => {
    installResume();
    const pb = newClient();
    const disconnects = [];
    pb.realtime.onDisconnect = (subs) => disconnects.push(subs);
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    await waitForSubscribers("chat", 1);
    const firstId = pb.realtime.clientId;
    assert.doesNotMatch(streamUrl(pb), /lastEventId/, "the first stream has nothing to resume");

    const BURST = 500;
    const reached = [];
    for (let n = 0; n < BURST; n++) {
        if (n === 200) {
            const { dropped } = await drop();
            assert.equal(dropped, 1, "/test/drop ended the SDK's stream");
        }
        reached.push(await send("chat", { n }, "all"));
    }
    // Sent while no stream of this client was subscribed: only a replay can deliver these.
    const missed = reached.filter((r) => r === 0).length;
    assert.ok(missed > 0, `some sends found no subscriber during the drop (reached: ${reached})`);

    await waitForCalls(cb, BURST, RECONNECT_TIMEOUT, () => `${BURST} messages (got ${cb.calls.length})`);
    await waitReconnected(pb, firstId);
    assert.match(streamUrl(pb), /[?&]lastEventId=[^&]+/, "the new stream said where it stopped");
    assert.equal(disconnects.length, 1, "one disconnect");

    for (let n = BURST; n < BURST + 3; n++) assert.equal(await send("chat", { n }, "all"), 1);
    await waitForCalls(cb, BURST + 3);
    await sleep(QUIET_WINDOW);
    const seen = cb.calls.map((c) => c.n);
    assert.deepEqual(
        seen,
        Array.from({ length: BURST + 3 }, (_, n) => n),
        `every message once, in order (${missed} of them missed while the stream was down)`,
    );
});

test("a drop before any message arrived resumes from the PB_CONNECT id", async () => {
    installResume();
    const pb = newClient();
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    await waitForSubscribers("chat", 1);
    const firstId = pb.realtime.clientId;

    const gate = failSubscriptions(pb);
    await drop();
    await waitForSubscribers("chat", 0);
    assert.equal(await send("chat", { n: 0 }, "all"), 0, "nobody subscribed during the drop");
    assert.equal(await send("chat", { n: 1 }, "all"), 0);
    gate.release();

    await waitReconnected(pb, firstId);
    assert.ok(
        streamUrl(pb).includes(`lastEventId=${firstId}`),
        `the new stream resumes from the first PB_CONNECT id (${streamUrl(pb)})`,
    );
    await waitForCalls(cb, 2, RECONNECT_TIMEOUT, "the two missed messages");
    assert.equal(await send("chat", { n: 2 }, "all"), 1);
    await waitForCalls(cb, 3);
    await sleep(QUIET_WINDOW);
    assert.deepEqual(cb.calls, [{ n: 0 }, { n: 1 }, { n: 2 }]);
});

test("a resumed stream that fails before its subscription lands does not move the resume point", async () => {
    // The new stream's PB_CONNECT comes before its replay: if the helper took that id as the
    // place to resume from, a stream lost in between would skip what was missed before it.
    installResume();
    const pb = newClient();
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    await waitForSubscribers("chat", 1);
    assert.equal(await send("chat", { n: 0 }, "all"), 1);
    await waitForCalls(cb, 1);
    const firstId = pb.realtime.clientId;

    const gate = failSubscriptions(pb);
    await drop();
    await waitForSubscribers("chat", 0);
    assert.equal(await send("chat", { n: 1 }, "all"), 0, "missed: nobody subscribed");
    // A stream opened after that send, whose subscription then failed.
    const failedBefore = gate.failed;
    await waitFor(() => gate.failed > failedBefore, RECONNECT_TIMEOUT, "a failed subscription POST after the send");
    gate.release();

    await waitReconnected(pb, firstId);
    await waitForCalls(cb, 2, RECONNECT_TIMEOUT, () => `the missed message (calls: ${JSON.stringify(cb.calls)})`);
    assert.equal(await send("chat", { n: 2 }, "all"), 1);
    await waitForCalls(cb, 3);
    await sleep(QUIET_WINDOW);
    assert.deepEqual(cb.calls, [{ n: 0 }, { n: 1 }, { n: 2 }]);
});

test("more missed than a topic keeps: PB_RESYNC reaches subscribe(\"PB_RESYNC\", fn), nothing partial is replayed", async () => {
    installResume();
    const pb = newClient();
    const cb = recorder();
    const resyncs = recorder();
    await pb.realtime.subscribe(SHORT, cb);
    await pb.realtime.subscribe("PB_RESYNC", resyncs);
    await waitForSubscribers(SHORT, 1);
    assert.equal(await send(SHORT, { n: 0 }, "all"), 1);
    await waitForCalls(cb, 1);
    const firstId = pb.realtime.clientId;

    const gate = failSubscriptions(pb);
    await drop();
    await waitForSubscribers(SHORT, 0);
    // "short" keeps 3 sends: the first of these 5 is gone when the client comes back.
    for (let n = 1; n <= 5; n++) assert.equal(await send(SHORT, { n }, "all"), 0);
    gate.release();

    await waitFor(
        () => pb.realtime.isConnected && pb.realtime.clientId !== firstId,
        RECONNECT_TIMEOUT,
        "the SDK to reconnect",
    );
    await waitForCalls(resyncs, 1, RECONNECT_TIMEOUT, "the PB_RESYNC callback");
    assert.deepEqual(resyncs.calls, [{ topics: [SHORT] }]);
    await waitForSubscribers(SHORT, 1);
    assert.equal(await send(SHORT, { n: 6 }, "all"), 1);
    await waitForCalls(cb, 2);
    await sleep(QUIET_WINDOW);
    assert.deepEqual(cb.calls, [{ n: 0 }, { n: 6 }], "the page reloads instead: no partial replay");
    assert.equal(resyncs.calls.length, 1, "one resync");
});

test("without the helper the stock SDK reconnects as before: nothing is replayed", async () => {
    assert.equal(globalThis.EventSource, Stock);
    const pb = newClient();
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    await waitForSubscribers("chat", 1);
    assert.equal(await send("chat", { n: 0 }, "all"), 1);
    await waitForCalls(cb, 1);
    const firstId = pb.realtime.clientId;

    const gate = failSubscriptions(pb);
    await drop();
    await waitForSubscribers("chat", 0);
    assert.equal(await send("chat", { n: 1 }, "all"), 0);
    gate.release();

    await waitReconnected(pb, firstId);
    assert.doesNotMatch(streamUrl(pb), /lastEventId/, "the stock SDK does not say where it stopped");
    assert.equal(await send("chat", { n: 2 }, "all"), 1);
    await waitForCalls(cb, 2);
    await sleep(QUIET_WINDOW);
    assert.deepEqual(cb.calls, [{ n: 0 }, { n: 2 }], "the missed message is gone");
});
