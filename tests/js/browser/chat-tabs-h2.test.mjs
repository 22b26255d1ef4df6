// examples/chat in ten tabs of one Chromium over its built-in TLS (`--tls-self-signed true`),
// where the browser speaks HTTP/2: every tab's stream shares the one connection, so the
// extension does not share streams between tabs (it does so only over HTTP/1.1), and ten
// tabs, each with its own stream, all work: posting from any tab, every tab shows every
// message once.
//
//   EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat-tabs-h2.test.mjs
//
// (`cargo test -p example-chat --test many_tabs_h2` builds the binary and runs this.) The
// certificate is made by the server at start; this test's browser context alone ignores
// certificate errors (`ignoreHTTPSErrors`).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, expectEachOnce, launchBrowser, postThroughForm, serverFigures, startExample, openPage, waitFor } from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) throw new Error("EXAMPLE_BIN is not set; examples/chat/tests/many_tabs_h2.rs sets it");

const TABS = 10;
const LABEL = "10 tabs, HTTP/2 (built-in TLS), a stream per tab";

let server;
let browser;

before(async () => {
    server = await startExample(BIN, { tls: true });
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await server?.dispose();
});

function openTab(context, name) {
    return openPage(context, server.url, name);
}

function state(tab) {
    return tab.page.$eval("main", (main) => ({
        connection: main.dataset.sseState,
        share: main.dataset.sseShare ?? null,
        protocol: performance.getEntriesByType("navigation")[0]?.nextHopProtocol,
    }));
}

async function waitConnected(tab) {
    await waitFor(async () => (await state(tab)).connection === "connected", DEFAULT_TIMEOUT, () => `${tab.name} to be connected`);
}

test("ten tabs over the built-in TLS and HTTP/2, each with its own stream, all work", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const first = await openTab(context, "tab 1");
    await first.page.fill("#login input[name=username]", "ann");
    await first.page.click("#login button");
    await first.page.waitForSelector("#send");
    await waitConnected(first);
    const tabs = [first];
    for (let i = 2; i <= TABS; i++) {
        const tab = await openTab(context, `tab ${i}`);
        await waitConnected(tab);
        tabs.push(tab);
    }
    for (const tab of tabs) {
        const s = await state(tab);
        assert.equal(s.protocol, "h2", `${tab.name} came over HTTP/2`);
        assert.equal(s.share, null, `${tab.name} does not share: every stream has the one connection`);
    }
    // The figures the README reports (`-- --nocapture` shows them).
    console.log(`measured: ${LABEL}: ${JSON.stringify(serverFigures(server))}`);
    await postThroughForm(tabs[6], "h2 from tab 7");
    await postThroughForm(tabs[9], "h2 from tab 10");
    await postThroughForm(tabs[0], "h2 from tab 1");
    await expectEachOnce(tabs, ["h2 from tab 7", "h2 from tab 10", "h2 from tab 1"]);
    for (const tab of tabs) assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
    await context.close();
});
