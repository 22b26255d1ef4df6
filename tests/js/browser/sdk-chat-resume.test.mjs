// examples/sdk-chat (the unmodified PocketBase SDK, after /_realtime/pocketbase-tabs.js) in
// real browsers, when a page loses its connection while another posts: it comes back with
// every message once, in order, without reloading its history; after missing more than the
// server keeps, PB_RESYNC makes it reload the history.
//
// Alice's page goes through a proxy the test cuts (a lost network: the server sees the stream
// end); Bob's page talks to the server directly.
//
//   EXAMPLE_BIN=target/debug/example-sdk-chat node --test tests/js/browser/sdk-chat-resume.test.mjs
//
// (`cargo test -p example-sdk-chat --test browser_resume` builds the binary and runs this.)

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
        "EXAMPLE_BIN is not set: point it at the example-sdk-chat binary, e.g. " +
            "EXAMPLE_BIN=target/debug/example-sdk-chat node --test tests/js/browser/sdk-chat-resume.test.mjs",
    );
}

/** How many chat messages the server keeps for reconnecting pages (examples/sdk-chat/src/main.rs). */
const CHAT_HISTORY = 200;

/** How many stored messages `GET /api/messages` answers (examples/support, `HISTORY`). */
const SHOWN = 100;

/** The SDK's backoff (200, 300, 500, 1000, 1200, 1500, 2000 ms) after a cut. */
const RECONNECT_TIMEOUT = 20_000;

/** Long enough for a message that should not arrive to show up if it did. */
const QUIET_WINDOW = 500;

let server;
let proxy;
let browser;
let alice;
let bob;
/** Every message posted, in order: what a page must show. */
const posted = [];

/** Opens the chat at `url` in a fresh browser context, as `name`, and waits until it is live. */
async function openChat(name, url) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(DEFAULT_TIMEOUT);
    const seen = watchPage(page);
    await page.goto(`${url}/`);
    const chat = { name, context, page, seen };
    await waitForState(chat, "live");
    await page.fill("#user", name);
    return chat;
}

async function waitForState(chat, state, ms = DEFAULT_TIMEOUT) {
    let last;
    await waitFor(
        async () => {
            last = await chat.page.$eval("#status", (el) => el.dataset.state);
            return last === state;
        },
        ms,
        () => `${chat.name}'s page to be ${state} (it is ${last})`,
    );
}

/** Posts through the page's form; resolves once the server accepted it (the form clears). */
async function post(chat, text) {
    await chat.page.fill("#text", text);
    await chat.page.click("#send");
    await waitFor(
        async () => (await chat.page.inputValue("#text")) === "",
        DEFAULT_TIMEOUT,
        `${chat.name}'s post of ${JSON.stringify(text)} to be accepted`,
    );
    posted.push({ user: chat.name, text });
}

/** Posts `texts` one after the other from `chat`'s page, without the form. */
async function postMany(chat, texts) {
    await withTimeout(
        chat.page.evaluate(
            async ({ user, texts }) => {
                for (const text of texts) {
                    const response = await fetch("/chat", {
                        method: "POST",
                        headers: { "Content-Type": "application/json" },
                        body: JSON.stringify({ user, text }),
                    });
                    if (!response.ok) throw new Error(`POST /chat answered ${response.status}`);
                }
            },
            { user: chat.name, texts },
        ),
        60_000,
        `${chat.name} to post ${texts.length} messages`,
    );
    for (const text of texts) posted.push({ user: chat.name, text });
}

function shown(chat) {
    return chat.page.$$eval("#messages .message", (items) =>
        items.map((item) => ({
            user: item.querySelector(".user").textContent,
            text: item.querySelector(".text").textContent,
        })),
    );
}

/** Waits until `chat` shows exactly `expected`, in order, and still does a moment later. */
async function waitForList(chat, expected, ms = DEFAULT_TIMEOUT) {
    let last;
    const matches = async () => {
        last = await shown(chat);
        return JSON.stringify(last) === JSON.stringify(expected);
    };
    await waitFor(matches, ms, () => `${chat.name} to show ${describe(expected)}; it shows ${describe(last)}`);
    await sleep(QUIET_WINDOW);
    assert.ok(await matches(), `${chat.name} kept showing each message once; it shows ${describe(last)}`);
}

function describe(list) {
    if (!list) return String(list);
    const texts = list.map((m) => `${m.user}: ${m.text}`);
    return texts.length > 8
        ? `${texts.length} messages [${texts.slice(0, 3).join(" | ")} ... ${texts.slice(-3).join(" | ")}]`
        : JSON.stringify(texts);
}

/** The GET requests for `path` Alice's page made through the proxy since `since`. */
function requestsSince(since, path) {
    return proxy.requests.filter((r) => r.at >= since && r.method === "GET" && r.target.split("?")[0] === path);
}

/**
 * Cuts Alice's network, checks the server saw her stream end, and has Bob post `texts`
 * meanwhile (through the form, or `bulk`). Resolves with when the cut started.
 */
async function cutWhileBobPosts(texts, { bulk = false } = {}) {
    await waitForList(alice, posted);
    const streamId = proxy.connectIds.at(-1);
    assert.ok(streamId, "the proxy saw Alice's PB_CONNECT");
    await alice.page.evaluate(() => {
        window.sameDocument = true;
    });
    const cutAt = Date.now();
    proxy.cut("reset");
    await waitForState(alice, "reconnecting");
    await waitForServerToForget(server.url, streamId);
    const before = await shown(alice);
    if (bulk) await postMany(bob, texts);
    else for (const text of texts) await post(bob, text);
    await waitForList(bob, posted, 30_000);
    assert.deepEqual(await shown(alice), before, "nothing reached Alice while she was cut off");
    return cutAt;
}

before(
    async () => {
        server = await startExample(BIN);
        proxy = await startCutProxy(server.port);
        browser = await launchBrowser();
        alice = await openChat("alice", proxy.url);
        bob = await openChat("bob", server.url);
        await post(bob, "hello before anything happens");
        await waitForList(alice, posted);
    },
    { timeout: 60_000 },
);

// A test that failed while the page was cut off leaves it cut off for the next one otherwise.
afterEach(() => proxy?.restore());

after(
    async () => {
        await browser?.close().catch(() => {});
        await proxy?.close();
        await server?.dispose();
    },
    { timeout: 30_000 },
);

test("a page whose network drops while another posts shows every message once, without reloading", { timeout: 90_000 }, async () => {
    const cutAt = await cutWhileBobPosts(["one while Alice is away", "two", "three"]);
    proxy.restore();

    await waitForState(alice, "live", RECONNECT_TIMEOUT);
    await waitForList(alice, posted);
    // The tabs helper's stream said where the page stopped: the browser's own retry sends
    // Last-Event-ID, a stream the helper opens again carries ?lastEventId=.
    const streams = requestsSince(cutAt, "/api/realtime");
    const last = streams.at(-1);
    const resumedFrom = last?.headers["last-event-id"] ?? new URL(last?.target ?? "/", "http://x").searchParams.get("lastEventId");
    assert.match(resumedFrom ?? "", /^[^&]+-\d+$/, JSON.stringify(streams));
    assert.deepEqual(requestsSince(cutAt, "/api/messages"), [], "the history was not reloaded");
    assert.equal(await alice.page.evaluate(() => window.sameDocument), true, "no page reload");

    await post(bob, "live again");
    await waitForList(alice, posted);
});

test("a page that missed more than the server keeps reloads its history on PB_RESYNC", { timeout: 120_000 }, async () => {
    const texts = Array.from({ length: CHAT_HISTORY + 1 }, (_, i) => `missed ${i + 1} of ${CHAT_HISTORY + 1}`);
    const cutAt = await cutWhileBobPosts(texts, { bulk: true });
    proxy.restore();

    await waitForState(alice, "live", RECONNECT_TIMEOUT);
    // The history is what GET /api/messages answers: the latest stored messages, each once.
    await waitForList(alice, posted.slice(-SHOWN), RECONNECT_TIMEOUT);
    assert.equal(requestsSince(cutAt, "/api/messages").length, 1, "the history was reloaded once");
    assert.equal(await alice.page.evaluate(() => window.sameDocument), true, "no page reload");

    await post(bob, "live after the reload");
    await waitForList(alice, posted.slice(-(SHOWN + 1)));
    for (const chat of [alice, bob]) assert.deepEqual(chat.seen.pageErrors, [], `${chat.name} had no page errors`);
});
