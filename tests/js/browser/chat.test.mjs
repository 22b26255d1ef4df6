// examples/chat (the seed's HTMX chat) in real browsers: two users log in, a message posted in
// one page appears in both through render capture and our pocketbase-sse extension, markup
// stays text, notices (the default filter) reach only the sender's own tabs, and every page
// rides out a server restart.
//
//   EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat.test.mjs
//
// (`cargo test -p example-chat --test browser` builds the binary and runs this.)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, launchBrowser, openPage, startExample, waitFor } from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) {
    throw new Error(
        "EXAMPLE_BIN is not set: point it at the example-chat binary, e.g. " +
            "EXAMPLE_BIN=target/debug/example-chat node --test tests/js/browser/chat.test.mjs",
    );
}

/** A restart plus the browser's own EventSource retry (about 3 s in Chromium). */
const RECONNECT_TIMEOUT = 20_000;

let server;
let browser;
const users = {};

/** A browser context (its own cookie jar) for `name`, logged in through the page's form. */
async function logIn(name) {
    const context = await browser.newContext();
    const tab = await openTab(context, name);
    await tab.page.fill("#login input[name=username]", name);
    await tab.page.click("#login button");
    await tab.page.waitForSelector("#send", { timeout: DEFAULT_TIMEOUT });
    await recordStates(tab); // the login reloaded the page
    await waitConnected(tab);
    users[name] = { context, tabs: [tab] };
    return users[name];
}

async function openTab(context, name) {
    const tab = await openPage(context, server.url, name);
    await recordStates(tab);
    return tab;
}

/** Records every connection state the page goes through, to see it notice a restart. */
async function recordStates(tab) {
    await tab.page.evaluate(() => {
        const main = document.querySelector("main");
        window.states = [main.dataset.sseState];
        new MutationObserver(() => window.states.push(main.dataset.sseState)).observe(main, {
            attributeFilter: ["data-sse-state"],
        });
    });
}

async function waitConnected(tab, ms = DEFAULT_TIMEOUT) {
    await waitFor(
        () => tab.page.$eval("main", (main) => main.dataset.sseState === "connected"),
        ms,
        () => `${tab.name}'s page to be connected`,
    );
}

async function post(tab, text) {
    await tab.page.fill("#message-input", text);
    await tab.page.click("#send button");
    await waitFor(
        () => tab.page.$eval("#message-input", (input) => input.value === ""),
        DEFAULT_TIMEOUT,
        () => `${tab.name}'s form to be reset after a successful post`,
    );
}

function messages(tab) {
    return tab.page.$$eval("#messages .message", (divs) =>
        divs.map((div) => ({
            user: div.querySelector(".user").textContent,
            text: div.querySelector(".text").textContent,
        })),
    );
}

async function waitForMessage(tab, expected) {
    let last;
    await waitFor(
        async () => {
            last = await messages(tab);
            return last.some((m) => m.user === expected.user && m.text === expected.text);
        },
        DEFAULT_TIMEOUT,
        () => `${tab.name}'s page to show ${JSON.stringify(expected)} (has ${JSON.stringify(last)})`,
    );
}

function notices(tab) {
    return tab.page.$$eval("#notices .notice", (items) => items.map((li) => li.textContent));
}

before(async () => {
    server = await startExample(BIN);
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await server?.dispose();
});

test("a message posted in one page appears in every page, live", async () => {
    const ann = await logIn("ann");
    const bob = await logIn("bob");
    const [annTab, bobTab] = [ann.tabs[0], bob.tabs[0]];

    await post(annTab, "hello bob");
    for (const tab of [annTab, bobTab]) {
        await waitForMessage(tab, { user: "ann", text: "hello bob" });
        // hx-trigger="sse:chat" re-fetched the count when the message arrived.
        await waitFor(
            () => tab.page.$eval("#count", (el) => el.textContent === "1 message"),
            DEFAULT_TIMEOUT,
            () => `${tab.name}'s count to read "1 message"`,
        );
    }
    // One shared connection per page, whatever the number of sse-swap elements.
    const connections = await annTab.page.evaluate(
        () => performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/realtime")).length,
    );
    assert.ok(connections >= 1);
});

test("markup, quotes, ampersands and newlines arrive as text, and no script runs", async () => {
    const [annTab, bobTab] = [users.ann.tabs[0], users.bob.tabs[0]];
    const nasty = `<script>window.pwned = 1; alert("x")</script> <img src=x onerror="window.pwned=2"> & "quoted" 'single'\nsecond line`;
    await post(bobTab, nasty);
    for (const tab of [annTab, bobTab]) {
        await waitForMessage(tab, { user: "bob", text: nasty });
        assert.equal(await tab.page.evaluate(() => window.pwned), undefined, "no injected script ran");
        assert.deepEqual(tab.seen.dialogs, [], "no dialog opened");
        assert.equal(await tab.page.locator("#messages script, #messages img").count(), 0);
    }
});

test("notices sent with the default filter reach only the sender's own tabs", async () => {
    const ann = users.ann;
    const annSecondTab = await openTab(ann.context, "ann (second tab)");
    await waitConnected(annSecondTab);
    ann.tabs.push(annSecondTab);
    const bobTab = users.bob.tabs[0];
    const bobBefore = await notices(bobTab);

    await post(ann.tabs[0], "only my tabs hear about this");
    for (const tab of ann.tabs) {
        await waitFor(
            async () => (await notices(tab)).some((n) => n.includes("only my tabs hear about this")),
            DEFAULT_TIMEOUT,
            () => `${tab.name} to get the notice`,
        );
    }
    // The message itself reached bob; the notice did not.
    await waitForMessage(bobTab, { user: "ann", text: "only my tabs hear about this" });
    assert.deepEqual(await notices(bobTab), bobBefore);
});

test("after a server restart every page reconnects and keeps receiving", async () => {
    const tabs = [...users.ann.tabs, ...users.bob.tabs];
    await server.restart();
    for (const tab of tabs) {
        let states;
        await waitFor(
            async () => {
                states = await tab.page.evaluate(() => window.states);
                return states.includes("disconnected") && states.at(-1) === "connected";
            },
            RECONNECT_TIMEOUT,
            () => `${tab.name} to notice the restart and reconnect (states: ${JSON.stringify(states)})`,
        );
    }
    await post(users.bob.tabs[0], "still here after the restart");
    for (const tab of tabs) {
        await waitForMessage(tab, { user: "bob", text: "still here after the restart" });
    }
});

test("a reloaded page shows the history from the database", async () => {
    const tab = users.bob.tabs[0];
    await tab.page.reload();
    await tab.page.waitForSelector("#send");
    const history = await messages(tab);
    assert.deepEqual(
        history.map((m) => m.text),
        ["hello bob", history[1].text, "only my tabs hear about this", "still here after the restart"],
    );
    assert.ok(history[1].text.startsWith("<script>"));
    for (const { tabs } of Object.values(users)) {
        for (const t of tabs) assert.deepEqual(t.seen.pageErrors, [], `${t.name} had no page errors`);
    }
});
