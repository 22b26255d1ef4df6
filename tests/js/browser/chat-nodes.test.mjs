// examples/chat as two processes on one Redis and one data directory, in headless Chromium:
// a page on instance A and a page on instance B, then pages behind a round-robin balancer in
// front of both (every request of theirs, page, stream, subscription, login and post, goes to
// the next instance in turn). Every message appears exactly once on every page; notices (the
// default filter) reach the sender's own tabs, on either instance, and nobody else's.
//
//   NODE_URLS=http://127.0.0.1:8091,http://127.0.0.1:8092 BALANCER_URL=http://127.0.0.1:8090 \
//     node --test tests/js/browser/chat-nodes.test.mjs
//
// (`cargo test -p example-chat --test two_nodes` starts Redis, both instances and the
// balancer, and runs this.)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DEFAULT_TIMEOUT, launchBrowser, openPage, postThroughForm, sleep, waitFor } from "./helpers.mjs";

function required(name, example) {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set (e.g. ${example}); examples/chat/tests/two_nodes.rs sets it`);
    return value;
}

const [NODE_A, NODE_B] = required("NODE_URLS", "NODE_URLS=http://127.0.0.1:8091,http://127.0.0.1:8092").split(",");
const BALANCER = required("BALANCER_URL", "BALANCER_URL=http://127.0.0.1:8090");

/** Long enough for a duplicate to show up after the original. */
const QUIET_WINDOW = 1_000;

let browser;
const tabs = [];

/** A tab of `context` on `origin`, its connection states recorded. */
async function openTab(context, origin, name) {
    const tab = await openPage(context, origin, name);
    tabs.push(tab);
    return tab;
}

async function waitConnected(tab) {
    await waitFor(
        () => tab.page.$eval("main", (main) => main.dataset.sseState === "connected"),
        DEFAULT_TIMEOUT,
        () => `${tab.name}'s page to be connected`,
    );
}

/** A browser context (its own cookie jar) for `name`, logged in on a page at `origin`. */
async function logIn(name, origin, where) {
    const context = await browser.newContext();
    const tab = await openTab(context, origin, `${name} (${where})`);
    await tab.page.fill("#login input[name=username]", name);
    await tab.page.click("#login button");
    await tab.page.waitForSelector("#send", { timeout: DEFAULT_TIMEOUT });
    await waitConnected(tab);
    return { context, tab };
}

function messages(tab) {
    return tab.page.$$eval("#messages .message", (divs) =>
        divs.map((div) => ({
            user: div.querySelector(".user").textContent,
            text: div.querySelector(".text").textContent,
        })),
    );
}

function notices(tab) {
    return tab.page.$$eval("#notices .notice", (items) => items.map((li) => li.textContent));
}

/** Waits until every tab of `on` shows each message of `sent` ({user, text}), then checks
 * over a quiet window that each shows it exactly once. */
async function expectOnEveryPage(on, sent) {
    for (const tab of on) {
        for (const message of sent) {
            let last;
            await waitFor(
                async () => {
                    last = await messages(tab);
                    return last.some((m) => m.user === message.user && m.text === message.text);
                },
                DEFAULT_TIMEOUT,
                () => `${tab.name}'s page to show ${JSON.stringify(message)} (has ${JSON.stringify(last)})`,
            );
        }
    }
    await sleep(QUIET_WINDOW);
    for (const tab of on) {
        const shown = await messages(tab);
        for (const message of sent) {
            const copies = shown.filter((m) => m.user === message.user && m.text === message.text);
            assert.equal(copies.length, 1, `${tab.name} shows ${JSON.stringify(message)} once: ${JSON.stringify(shown)}`);
        }
    }
}

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
});

let ann;
let bob;

test("a page on instance A and a page on instance B: each posts, both see every message once", async () => {
    ann = await logIn("ann", NODE_A, "on A");
    bob = await logIn("bob", NODE_B, "on B");
    await postThroughForm(ann.tab, "hello from A");
    await postThroughForm(bob.tab, "hello from B");
    await expectOnEveryPage(
        [ann.tab, bob.tab],
        [
            { user: "ann", text: "hello from A" },
            { user: "bob", text: "hello from B" },
        ],
    );
    // Both count the one database's messages, re-fetched on each chat event.
    for (const tab of [ann.tab, bob.tab]) {
        await waitFor(
            () => tab.page.$eval("#count", (el) => el.textContent === "2 messages"),
            DEFAULT_TIMEOUT,
            () => `${tab.name}'s count to read "2 messages"`,
        );
    }
});

test("notices reach the sender's own tabs on both instances, and nobody else's", async () => {
    const annOnB = await openTab(ann.context, NODE_B, "ann (second tab, on B)");
    await waitConnected(annOnB);
    const bobBefore = await notices(bob.tab);
    await postThroughForm(ann.tab, "a notice for my tabs");
    for (const tab of [ann.tab, annOnB]) {
        await waitFor(
            async () => (await notices(tab)).some((n) => n.includes("a notice for my tabs")),
            DEFAULT_TIMEOUT,
            () => `${tab.name} to get the notice`,
        );
    }
    await expectOnEveryPage([ann.tab, annOnB, bob.tab], [{ user: "ann", text: "a notice for my tabs" }]);
    assert.deepEqual(await notices(bob.tab), bobBefore, "bob got no notice of ann's");
});

test("pages behind the round-robin balancer join the same chat", async () => {
    const carol = await logIn("carol", BALANCER, "via the balancer");
    const dave = await logIn("dave", BALANCER, "via the balancer");
    await postThroughForm(carol.tab, "hello from behind the balancer");
    await postThroughForm(dave.tab, "me too");
    await postThroughForm(bob.tab, "welcome");
    await expectOnEveryPage(tabs, [
        { user: "carol", text: "hello from behind the balancer" },
        { user: "dave", text: "me too" },
        { user: "bob", text: "welcome" },
    ]);
    for (const tab of tabs) assert.deepEqual(tab.seen.pageErrors, [], `${tab.name} had no page errors`);
});
