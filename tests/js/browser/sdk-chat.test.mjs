// examples/sdk-chat in real browsers: two pages (two browser contexts) chat through the
// unmodified PocketBase JS SDK; markup in a message stays text; both pages ride out a server
// restart; the history comes back from SQLite after a reload.
//
//   EXAMPLE_BIN=target/debug/example-sdk-chat node --test tests/js/browser/sdk-chat.test.mjs
//
// (`cargo test -p example-sdk-chat --test browser` builds the binary and runs this.)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, launchBrowser, sleep, startExample, waitFor, watchPage } from "./helpers.mjs";

const BIN = process.env.EXAMPLE_BIN;
if (!BIN) {
    throw new Error(
        "EXAMPLE_BIN is not set: point it at the example-sdk-chat binary, e.g. " +
            "EXAMPLE_BIN=target/debug/example-sdk-chat node --test tests/js/browser/sdk-chat.test.mjs",
    );
}

/** Reconnecting takes the SDK's backoff (200, 300, 500, 1000 ms, ...) plus a restart. */
const RECONNECT_TIMEOUT = 20_000;

let server;
let browser;
/** The open chat pages, by name. */
const pages = {};
/** Every message posted successfully, in order: what the history must hold. */
const posted = [];

/** Opens the chat in a fresh browser context, as `name`, and waits until it is live. */
async function openChat(name) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(DEFAULT_TIMEOUT);
    const seen = watchPage(page);
    await page.goto(`${server.url}/`);
    await waitForLive(page, name);
    await page.fill("#user", name);
    pages[name] = { name, context, page, seen };
    return pages[name];
}

function status(page) {
    return page.$eval("#status", (el) => ({ state: el.dataset.state, label: el.textContent }));
}

async function waitForLive(page, name, ms = DEFAULT_TIMEOUT) {
    let last;
    await waitFor(
        async () => {
            last = await status(page);
            return last.state === "live" && last.label === "live";
        },
        ms,
        () => `${name}'s page to show "live" (last: ${JSON.stringify(last)})`,
    );
}

/** The messages a page shows, as rendered text. */
function shown(page) {
    return page.$$eval("#messages .message", (items) =>
        items.map((item) => ({
            user: item.querySelector(".user").textContent,
            text: item.querySelector(".text").textContent,
        })),
    );
}

/** Waits until every open page shows exactly `expected`, in order. */
async function waitForMessages(expected, ms = DEFAULT_TIMEOUT) {
    await Promise.all(
        Object.values(pages).map(async ({ name, page }) => {
            let last;
            await waitFor(
                async () => {
                    last = await shown(page);
                    return JSON.stringify(last) === JSON.stringify(expected);
                },
                ms,
                () =>
                    `${name}'s page to show ${JSON.stringify(expected)}\n` +
                    `  it shows ${JSON.stringify(last)}`,
            );
        }),
    );
}

/** Types into a page's form and clicks Send; records the message as posted. */
async function post(chat, text) {
    await chat.page.fill("#text", text);
    await chat.page.click("#send");
    // The form is cleared once the server accepted the message.
    await waitFor(
        async () => (await chat.page.inputValue("#text")) === "",
        DEFAULT_TIMEOUT,
        `${chat.name}'s post of ${JSON.stringify(text)} to be accepted (the form clears)`,
    );
    posted.push({ user: chat.name, text });
}

function assertClean(chat) {
    assert.deepEqual(chat.seen.dialogs, [], `${chat.name}: no dialog may open`);
    assert.deepEqual(chat.seen.pageErrors, [], `${chat.name}: no uncaught error`);
    const csp = chat.seen.console.filter((line) => /Content Security Policy/i.test(line));
    assert.deepEqual(csp, [], `${chat.name}: nothing may try to run injected code`);
}

before(
    async () => {
        server = await startExample(BIN);
        browser = await launchBrowser();
        await openChat("alice");
        await openChat("bob");
    },
    { timeout: 60_000 },
);

after(
    async () => {
        for (const { context } of Object.values(pages)) await context.close().catch(() => {});
        await browser?.close().catch(() => {});
        await server?.dispose();
    },
    { timeout: 30_000 },
);

test("a message posted in one page appears in both", { timeout: 30_000 }, async () => {
    const { alice, bob } = pages;
    await post(alice, "Hello from Alice");
    await waitForMessages(posted);
    await post(bob, "Hi Alice, Bob here");
    await waitForMessages(posted);
    assertClean(alice);
    assertClean(bob);
});

test("markup, quotes, & and a newline arrive intact as text, and nothing runs", { timeout: 30_000 }, async () => {
    const { alice, bob } = pages;
    const text =
        `<script>alert(1)</script><img src=x onerror="window.__pwned=1;alert(2)">` +
        ` "double" 'single' & &amp; <b>bold?</b>\nsecond line`;
    await post(alice, text);
    await waitForMessages(posted);
    for (const chat of [alice, bob]) {
        const injected = await chat.page.$$eval("#messages script, #messages img, #messages b", (els) => els.length);
        assert.equal(injected, 0, `${chat.name}: the message must not become elements`);
        const pwned = await chat.page.evaluate(() => window.__pwned);
        assert.equal(pwned, undefined, `${chat.name}: the injected handler must not run`);
        // Rendered as two lines of text (white-space: pre-wrap), not just stored with "\n".
        const rendered = await chat.page.$$eval("#messages .text", (els) => els.at(-1).innerText);
        assert.equal(rendered, text);
        assertClean(chat);
    }
});

test("the server's validation error is shown, and nothing is sent", { timeout: 30_000 }, async () => {
    const { alice, bob } = pages;
    await bob.page.fill("#text", "   ");
    await bob.page.click("#send");
    await waitFor(
        () => bob.page.isVisible("#error"),
        DEFAULT_TIMEOUT,
        "the error line on bob's page",
    );
    assert.equal(await bob.page.textContent("#error"), "The message is empty.");
    await sleep(300);
    assert.deepEqual(await shown(alice.page), posted);
    await bob.page.fill("#text", "");
});

test("after a server restart both pages reconnect and keep receiving", { timeout: 60_000 }, async () => {
    const { alice, bob } = pages;
    // Record every state the badge goes through: the reconnect may be quick.
    for (const { page } of [alice, bob]) {
        await page.evaluate(() => {
            const badge = document.getElementById("status");
            window.__states = [badge.dataset.state];
            new MutationObserver(() => window.__states.push(badge.dataset.state)).observe(badge, {
                attributes: true,
                attributeFilter: ["data-state"],
            });
        });
    }
    const oldPid = server.pid();
    const stopped = await server.restart();
    assert.equal(stopped.forced, false, `SIGTERM must stop the server:\n${server.output()}`);
    assert.equal(stopped.code, 0, `a clean exit:\n${server.output()}`);
    assert.notEqual(server.pid(), oldPid);

    for (const { name, page } of [alice, bob]) {
        let states;
        await waitFor(
            async () => {
                states = await page.evaluate(() => window.__states);
                return states.includes("reconnecting") && states.at(-1) === "live";
            },
            RECONNECT_TIMEOUT,
            () => `${name}'s page to go "reconnecting" then "live" (states: ${JSON.stringify(states)})`,
        );
        await waitForLive(page, name);
    }

    await post(bob, "Still here after the restart?");
    await waitForMessages(posted);
    await post(alice, "Yes!");
    await waitForMessages(posted);
    assertClean(alice);
    assertClean(bob);
});

test("after a reload the history shows every message, kept in SQLite across the restart", { timeout: 30_000 }, async () => {
    const { alice } = pages;
    await alice.page.reload();
    await waitForLive(alice.page, "alice");
    const carol = await openChat("carol");
    await waitForMessages(posted);
    assert.equal(posted.length, 5);
    assertClean(alice);
    assertClean(carol);
});
