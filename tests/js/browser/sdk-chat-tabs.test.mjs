// examples/sdk-chat (the unmodified PocketBase SDK after /_realtime/pocketbase-tabs.js) in ten
// tabs of one Chromium over plain HTTP/1.1, where a browser allows six connections per site:
// the tabs share one stream, posting from any tab works, every tab shows every message once,
// and when the tab holding the stream closes, another takes over and nothing is lost or
// shown twice.
//
//   EXAMPLE_BIN=target/debug/example-sdk-chat node --test tests/js/browser/sdk-chat-tabs.test.mjs
//
// (`cargo test -p example-sdk-chat --test many_tabs` builds the binary and runs this.) The
// tabs reach the chat through a TCP proxy that records every request, to count the streams.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, expectEachOnce, launchBrowser, startCutProxy, startExample, openPage, waitFor } from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) throw new Error("EXAMPLE_BIN is not set; examples/sdk-chat/tests/many_tabs.rs sets it");

const TABS = 10;

let server;
let proxy;
let browser;

before(async () => {
    server = await startExample(BIN);
    proxy = await startCutProxy(server.port);
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.dispose();
});

async function openTab(context, name) {
    const tab = await openPage(context, proxy.url, name);
    await tab.page.fill("#user", name);
    await waitFor(
        () => tab.page.$eval("#status", (el) => el.dataset.state === "live"),
        DEFAULT_TIMEOUT,
        () => `${name} to be live`,
    );
    return tab;
}

async function post(tab, text) {
    await tab.page.fill("#text", text);
    await tab.page.click("#send");
    await waitFor(
        async () => (await tab.page.inputValue("#text")) === "",
        DEFAULT_TIMEOUT,
        `${tab.name}'s post of ${JSON.stringify(text)} to be accepted`,
    );
}

function streams(since = 0) {
    return proxy.requests.slice(since).filter((r) => r.method === "GET" && r.target.startsWith("/api/realtime"));
}

test("ten SDK tabs of one browser share one stream, and survive its tab closing", async () => {
    const context = await browser.newContext();
    const tabs = [];
    for (let i = 1; i <= TABS; i++) tabs.push(await openTab(context, `tab ${i}`));
    assert.equal(streams().length, 1, "one stream for the ten tabs");

    await post(tabs[3], "from tab 4");
    await post(tabs[9], "from tab 10");
    await expectEachOnce(tabs, ["from tab 4", "from tab 10"]);

    // The first tab opened the stream (it got the lock first); it closes.
    const before = proxy.requests.length;
    await tabs[0].page.close();
    const rest = tabs.slice(1);
    await waitFor(() => streams(before).length === 1, 5_000, "another tab to open the one new stream");
    assert.match(streams(before)[0].target, /lastEventId=/, "the new stream resumes from the last event id");
    await post(rest[0], "after the first tab left");
    await post(rest[8], "and from the last");
    await expectEachOnce(rest, ["from tab 4", "from tab 10", "after the first tab left", "and from the last"]);
    assert.equal(streams(before).length, 1, "still one stream");
    for (const tab of rest) {
        assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
        const state = await tab.page.$eval("#status", (el) => el.dataset.state);
        assert.equal(state, "live", `${tab.name} is live`);
    }
    await context.close();
});
