// examples/chat (HTMX, our pocketbase-sse extension) in real browsers, when a page loses its
// connection while another posts: it comes back with every message once, in order, without
// reloading; after missing more than the server keeps, it reloads its message list instead,
// and live messages that cross that reload are shown once (the page's chat.js).
//
// Ann's page goes through a proxy the test cuts (a lost network: the server sees the stream
// end); Bob's page talks to the server directly.
//
//   EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat-resume.test.mjs
//
// (`cargo test -p example-chat --test browser_resume` builds the binary and runs this.)

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";

import {
    DEFAULT_TIMEOUT,
    launchBrowser,
    sleep,
    startCutProxy,
    startExample,
    waitFor,
    waitForServerToForget,
    watchPage,
    withTimeout,
} from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) {
    throw new Error(
        "EXAMPLE_BIN is not set: point it at the example-chat binary, e.g. " +
            "EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat-resume.test.mjs",
    );
}

/** How many chat messages the server keeps for reconnecting pages (examples/chat/src/lib.rs). */
const CHAT_HISTORY = 200;

/** How many stored messages `GET /api/messages` answers (examples/support, `HISTORY`). */
const SHOWN = 100;

/** The browser's own EventSource retry (about 3 s in Chromium), or the extension's backoff. */
const RECONNECT_TIMEOUT = 20_000;

/** Long enough for a message that should not arrive to show up if it did. */
const QUIET_WINDOW = 500;

let server;
let proxy;
let browser;
let ann;
let bob;
/** Every message posted, in order: what a page must show. */
const posted = [];

/** Logs `name` in through the page's form at `url`, in a fresh browser context. */
async function logIn(name, url) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(DEFAULT_TIMEOUT);
    const seen = watchPage(page);
    await page.goto(`${url}/`);
    await page.fill("#login input[name=username]", name);
    await page.click("#login button");
    await page.waitForSelector("#send");
    const tab = { name, context, page, seen };
    await waitConnected(tab, true);
    return tab;
}

async function waitConnected(tab, connected, ms = DEFAULT_TIMEOUT) {
    const want = connected ? "connected" : "disconnected";
    await waitFor(
        () => tab.page.$eval("main", (main, want) => main.dataset.sseState === want, want),
        ms,
        () => `${tab.name}'s page to be ${want}`,
    );
}

/** Posts through the page's form; resolves once the server accepted it (the form resets). */
async function post(tab, text) {
    await tab.page.fill("#message-input", text);
    await tab.page.click("#send button");
    await waitFor(
        () => tab.page.$eval("#message-input", (input) => input.value === ""),
        DEFAULT_TIMEOUT,
        () => `${tab.name}'s post of ${JSON.stringify(text)} to be accepted`,
    );
    posted.push({ user: tab.name, text });
}

/** Posts `texts` one after the other from `tab`'s page, with its cookie, without the form. */
async function postMany(tab, texts) {
    await withTimeout(
        tab.page.evaluate(async (texts) => {
            for (const message of texts) {
                const response = await fetch("/api/chat", { method: "POST", body: new URLSearchParams({ message }) });
                if (!response.ok) throw new Error(`POST /api/chat answered ${response.status}`);
            }
        }, texts),
        60_000,
        `${tab.name} to post ${texts.length} messages`,
    );
    for (const text of texts) posted.push({ user: tab.name, text });
}

function shown(tab) {
    return tab.page.$$eval("#messages .message", (divs) =>
        divs.map((div) => ({
            user: div.querySelector(".user").textContent,
            text: div.querySelector(".text").textContent,
        })),
    );
}

/** Waits until `tab` shows exactly `expected`, in order, and still does a moment later. */
async function waitForList(tab, expected, ms = DEFAULT_TIMEOUT) {
    let last;
    const matches = async () => {
        last = await shown(tab);
        return JSON.stringify(last) === JSON.stringify(expected);
    };
    await waitFor(matches, ms, () => `${tab.name} to show ${describe(expected)}; it shows ${describe(last)}`);
    await sleep(QUIET_WINDOW);
    assert.ok(await matches(), `${tab.name} kept showing each message once; it shows ${describe(last)}`);
}

function describe(list) {
    if (!list) return String(list);
    const texts = list.map((m) => `${m.user}: ${m.text}`);
    return texts.length > 8
        ? `${texts.length} messages [${texts.slice(0, 3).join(" | ")} ... ${texts.slice(-3).join(" | ")}]`
        : JSON.stringify(texts);
}

/**
 * Marks the page's document (a reload would lose the mark) and records the resyncs the
 * extension reports on `document`.
 */
async function watchDocument(tab) {
    await tab.page.evaluate(() => {
        window.sameDocument = true;
        if (!window.resyncs) {
            document.addEventListener("pocketbase-sse:resync", (e) => window.resyncs.push(e.detail.topics));
        }
        window.resyncs = [];
    });
}

async function documentState(tab) {
    return tab.page.evaluate(() => ({ sameDocument: window.sameDocument === true, resyncs: window.resyncs }));
}

/** The requests Ann's page made through the proxy since `since` (a `Date.now()`). */
function requestsSince(since, path) {
    return proxy.requests.filter((r) => r.at >= since && r.method === "GET" && r.target.split("?")[0] === path);
}

/**
 * Cuts Ann's connection the way `how` says (see `startCutProxy`), checks the server saw her
 * stream end, and has Bob post `count` messages meanwhile (through the form, or `bulk`).
 * Ann's page must show `annShows` first (every message posted, unless it reloaded since).
 * Resolves with when the cut started.
 */
async function cutWhileBobPosts(how, texts, { bulk = false, annShows = posted } = {}) {
    await waitForList(ann, annShows);
    const streamId = proxy.connectIds.at(-1);
    assert.ok(streamId, "the proxy saw Ann's PB_CONNECT");
    const cutAt = Date.now();
    proxy.cut(how);
    await waitConnected(ann, false);
    await waitForServerToForget(server.url, streamId);
    const before = await shown(ann);
    if (bulk) await postMany(bob, texts);
    else for (const text of texts) await post(bob, text);
    await waitForList(bob, posted, 30_000);
    assert.deepEqual(await shown(ann), before, "nothing reached Ann while she was cut off");
    return cutAt;
}

before(
    async () => {
        server = await startExample(BIN);
        proxy = await startCutProxy(server.port);
        browser = await launchBrowser();
        ann = await logIn("ann", proxy.url);
        bob = await logIn("bob", server.url);
        await post(bob, "hello before anything happens");
        await waitForList(ann, posted);
    },
    { timeout: 60_000 },
);

// A test that failed while the page was cut off leaves it cut off for the next one otherwise.
afterEach(() => {
    proxy?.restore();
    proxy?.releaseStream();
});

after(
    async () => {
        await browser?.close().catch(() => {});
        await proxy?.close();
        await server?.dispose();
    },
    { timeout: 30_000 },
);

test("a page whose network drops while another posts shows every message once, without reloading", { timeout: 90_000 }, async () => {
    await watchDocument(ann);
    const cutAt = await cutWhileBobPosts("reset", ["one while Ann is away", "two", "three"]);
    proxy.restore();

    await waitConnected(ann, true, RECONNECT_TIMEOUT);
    await waitForList(ann, posted);
    // Chromium retried by itself and said where it stopped.
    const [resumed] = requestsSince(cutAt, "/api/realtime").filter((r) => r.headers["last-event-id"]);
    assert.ok(resumed, `a stream request carried Last-Event-ID: ${JSON.stringify(requestsSince(cutAt, "/api/realtime"))}`);
    assert.match(resumed.headers["last-event-id"], /^\S+-\d+$/, "the id of the last message seen");
    assert.deepEqual(requestsSince(cutAt, "/api/messages"), [], "the list was not reloaded");
    assert.deepEqual(await documentState(ann), { sameDocument: true, resyncs: [] });

    await post(bob, "live again");
    await waitForList(ann, posted);
});

test("when the stream cannot be reopened at once, the page opens a new one with ?lastEventId", { timeout: 90_000 }, async () => {
    await watchDocument(ann);
    // Every attempt answers 503: the EventSource gives up, and the extension starts over.
    const cutAt = await cutWhileBobPosts("unavailable", ["four, behind a 503", "five"]);
    await waitFor(
        () => requestsSince(cutAt, "/api/realtime").some((r) => r.target.includes("lastEventId=")),
        RECONNECT_TIMEOUT,
        "the extension to open a new EventSource with ?lastEventId",
    );
    proxy.restore();

    await waitConnected(ann, true, RECONNECT_TIMEOUT);
    await waitForList(ann, posted);
    const last = requestsSince(cutAt, "/api/realtime").at(-1);
    assert.match(last.target, /[?&]lastEventId=[^&]+-\d+(&|$)/, "resumed from the last message seen");
    assert.deepEqual(requestsSince(cutAt, "/api/messages"), [], "the list was not reloaded");
    assert.deepEqual(await documentState(ann), { sameDocument: true, resyncs: [] });
});

test("a page that missed more than the server keeps reloads its message list", { timeout: 120_000 }, async () => {
    await watchDocument(ann);
    const texts = Array.from({ length: CHAT_HISTORY + 1 }, (_, i) => `missed ${i + 1} of ${CHAT_HISTORY + 1}`);
    const cutAt = await cutWhileBobPosts("reset", texts, { bulk: true });
    proxy.restore();

    await waitConnected(ann, true, RECONNECT_TIMEOUT);
    // The list is what GET /api/messages answers: the latest stored messages, each once.
    await waitForList(ann, posted.slice(-SHOWN), RECONNECT_TIMEOUT);
    assert.equal(requestsSince(cutAt, "/api/messages").length, 1, "the list was reloaded once");
    assert.deepEqual(await documentState(ann), { sameDocument: true, resyncs: [["chat"]] });

    await post(bob, "live after the reload");
    await waitForList(ann, posted.slice(-(SHOWN + 1)));
    for (const tab of [ann, bob]) assert.deepEqual(tab.seen.pageErrors, [], `${tab.name} had no page errors`);
});

/**
 * Makes Ann's page miss more than the server keeps, so that it reloads its list, and hands
 * the reload's request to `duringReload(route)` (which fulfils it) when it reaches the
 * network: the test decides what happens while the reload is on its way. Resolves once
 * `duringReload` has.
 */
async function resyncAnnWhile(label, duringReload) {
    let handled;
    await ann.page.route("**/api/messages", (route) => {
        if (handled) return route.continue();
        handled = duringReload(route).catch(async (error) => {
            await route.abort().catch(() => {});
            throw error;
        });
        return handled.catch(() => {});
    });
    try {
        const texts = Array.from({ length: CHAT_HISTORY + 1 }, (_, i) => `${label} ${i + 1} of ${CHAT_HISTORY + 1}`);
        await cutWhileBobPosts("reset", texts, { bulk: true, annShows: await shown(ann) });
        proxy.restore();
        await waitConnected(ann, true, RECONNECT_TIMEOUT);
        await waitFor(() => handled !== undefined, RECONNECT_TIMEOUT, "Ann's page to reload its list");
        await withTimeout(handled, DEFAULT_TIMEOUT, "the reload's request to be answered");
    } finally {
        await ann.page.unroute("**/api/messages");
    }
}

/** Resolves once the last message `tab` shows is `text`. */
async function waitForLast(tab, text) {
    await waitFor(
        async () => (await shown(tab)).at(-1)?.text === text,
        DEFAULT_TIMEOUT,
        () => `${tab.name} to show ${JSON.stringify(text)} last`,
    );
}

test("a message that arrives while the list reloads, after the server read it, stays", { timeout: 120_000 }, async () => {
    const live = "sent while the reloaded list is on its way";
    await resyncAnnWhile("missed again", async (route) => {
        const response = await route.fetch(); // the list, read now
        await post(bob, live); // stored after the read: reaches Ann live, before the list
        await waitForLast(ann, live);
        await route.fulfill({ response });
    });
    // The list the server read, then the live message it did not have.
    await waitForList(ann, posted.slice(-(SHOWN + 1)), RECONNECT_TIMEOUT);
});

test("a message the reloaded list has already is not shown again when it arrives live", { timeout: 120_000 }, async () => {
    const late = "stored before the list is read, delivered after it";
    const cutAt = Date.now();
    await resyncAnnWhile("missed once more", async (route) => {
        proxy.stallStream(); // what the server sends Ann now waits in the network
        await post(bob, late);
        const response = await route.fetch(); // the list, with the message in it
        await route.fulfill({ response });
    });
    const reloaded = posted.slice(-SHOWN);
    await waitForList(ann, reloaded, RECONNECT_TIMEOUT);
    proxy.releaseStream(); // the live copy arrives after the list
    await post(bob, "after the slow network"); // arrives after it: by then the copy was handled
    await waitForList(ann, [...reloaded, posted.at(-1)]);
    assert.equal(requestsSince(cutAt, "/api/messages").length, 1, "the list was reloaded once");
    for (const tab of [ann, bob]) assert.deepEqual(tab.seen.pageErrors, [], `${tab.name} had no page errors`);
});
