// examples/chat in ten tabs of one Chromium over plain HTTP/1.1, where a browser allows six
// connections per site: the tabs share one event stream (the extension's `sse-share-tabs`),
// posting from any tab works, every tab shows every message once, and when the tab holding
// the stream closes, another takes over and nothing is lost or shown twice.
//
//   EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat-tabs.test.mjs
//
// (`cargo test -p example-chat --test many_tabs` builds the binary and runs this.) The tabs
// reach the chat through a TCP proxy that records every request, to count the streams.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, expectEachOnce, launchBrowser, postThroughForm, serverFigures, startCutProxy, startExample, openPage, waitFor } from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) throw new Error("EXAMPLE_BIN is not set; examples/chat/tests/many_tabs.rs sets it");

const TABS = 10;
const LABEL = "10 tabs, HTTP/1.1, streams shared";
/** The bound for a takeover is a second; the wait allows for a loaded machine. */
const TAKEOVER_TIMEOUT = 5_000;

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

function openTab(context, name) {
    return openPage(context, proxy.url, name);
}

function state(tab) {
    return tab.page.$eval("main", (main) => ({
        connection: main.dataset.sseState,
        share: main.dataset.sseShare,
    }));
}

async function waitConnected(tab, ms = DEFAULT_TIMEOUT) {
    await waitFor(async () => (await state(tab)).connection === "connected", ms, () => `${tab.name} to be connected`);
}

function streamsSince(mark) {
    return proxy.requests.slice(mark).filter((r) => r.method === "GET" && r.target.startsWith("/api/realtime")).length;
}

test("ten tabs of one browser share one stream: posting from any works, each shows every message once, and a closed leader is replaced", async () => {
    const context = await browser.newContext();
    const first = await openTab(context, "tab 1");
    await first.page.fill("#login input[name=username]", "ann");
    await first.page.click("#login button");
    await first.page.waitForSelector("#send");
    await waitConnected(first);
    const mark = proxy.requests.length;
    const tabs = [first];
    for (let i = 2; i <= TABS; i++) {
        const tab = await openTab(context, `tab ${i}`);
        await waitConnected(tab);
        tabs.push(tab);
    }
    const states = await Promise.all(tabs.map(state));
    assert.equal(states.filter((s) => s.share === "leader").length, 1, `one leader: ${JSON.stringify(states)}`);
    assert.equal(streamsSince(mark), 0, "the nine tabs opened after the first opened no stream of their own");

    // The figures the README reports (`-- --nocapture` shows them).
    console.log(`measured: ${LABEL}: ${JSON.stringify(serverFigures(server))}`);
    await postThroughForm(tabs[6], "from tab 7");
    await postThroughForm(tabs[9], "from tab 10");
    await postThroughForm(tabs[0], "from tab 1");
    await expectEachOnce(tabs, ["from tab 7", "from tab 10", "from tab 1"]);

    // The tab that holds the stream closes; one of the others takes over and resumes.
    const leader = tabs[states.findIndex((s) => s.share === "leader")];
    const rest = tabs.filter((tab) => tab !== leader);
    const before = proxy.requests.length;
    await leader.page.close();
    await waitFor(
        async () => (await Promise.all(rest.map(state))).some((s) => s.share === "leader"),
        TAKEOVER_TIMEOUT,
        "another tab to take the stream over",
    );
    await postThroughForm(rest[0], "after the leader left");
    await postThroughForm(rest[rest.length - 1], "and once more");
    await expectEachOnce(rest, ["from tab 7", "from tab 10", "from tab 1", "after the leader left", "and once more"]);
    assert.equal(streamsSince(before), 1, "the new leader opened the one new stream");
    const resumed = proxy.requests.slice(before).find((r) => r.method === "GET" && r.target.startsWith("/api/realtime"));
    assert.match(resumed.target, /lastEventId=/, "the new leader resumed from the last event id");
    for (const tab of rest) {
        assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
    }
    await context.close();
});
