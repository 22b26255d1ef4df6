// examples/chat deployed behind Debian's nginx (TLS and HTTP/2 toward the browser, as
// docs/deploy.md configures it), in headless Chromium and with the PocketBase SDK: first in
// front of one instance, then in front of two instances sharing Redis and one data directory,
// and a rolling restart of one of the two while a user keeps posting: every acknowledged
// message shows once on every page, and every page keeps receiving.
//
//   EXAMPLE_BIN=target/debug/example-chat REDIS_URL=redis://127.0.0.1:6379 TLS_DIR=<dir> \
//     NODE_EXTRA_CA_CERTS=<dir>/cert.pem node --test tests/js/browser/chat-nginx.test.mjs
//
// (`cargo test -p example-chat --test behind_nginx` makes the certificate, starts Redis, and
// runs this.) Chromium is not told to trust the certificate: these contexts alone ignore
// certificate errors (`ignoreHTTPSErrors`); the SDK trusts it through NODE_EXTRA_CA_CERTS.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { EventSource } from "eventsource";
import PocketBase from "pocketbase";

import { DEFAULT_TIMEOUT, expectEachOnce, launchBrowser, sleep, startExample, waitFor, watchPage } from "./helpers.mjs";
import { startNginx } from "./nginx.mjs";

globalThis.EventSource ??= EventSource;

function required(name) {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set; examples/chat/tests/behind_nginx.rs sets it`);
    return value;
}

const BIN = required("EXAMPLE_BIN");
const REDIS_URL = required("REDIS_URL");
const TLS_DIR = required("TLS_DIR");

/** A restart, the browser's EventSource retry (about 3 s) and the resume after it. */
const RECOVERY_TIMEOUT = 30_000;

let browser;
let dataDir;
const instances = [];
const proxies = [];
const contexts = [];

before(async () => {
    browser = await launchBrowser();
    dataDir = mkdtempSync(path.join(os.tmpdir(), "realtime-nginx-chat-"));
});

after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    for (const proxy of proxies) await proxy.stop();
    for (const instance of instances) await instance.dispose();
    rmSync(dataDir, { recursive: true, force: true });
});

async function instance() {
    // As docs/deploy.md says: nginx (on loopback here) trusted for the client's address, and
    // the auth cookie marked Secure since browsers come over HTTPS.
    const args = ["--redis", REDIS_URL, "--trusted-proxies", "127.0.0.1", "--secure-cookie", "true"];
    const started = await startExample(BIN, { dataDir, args });
    instances.push(started);
    return started;
}

async function nginx(upstreams) {
    const proxy = await startNginx({ upstreams: upstreams.map((i) => i.port), tlsDir: TLS_DIR });
    proxies.push(proxy);
    return proxy;
}

async function openTab(context, origin, name) {
    const page = await context.newPage();
    page.setDefaultTimeout(DEFAULT_TIMEOUT);
    const seen = watchPage(page);
    await page.goto(`${origin}/`);
    return { name, page, seen };
}

async function waitConnected(tab, ms = DEFAULT_TIMEOUT) {
    await waitFor(
        () => tab.page.$eval("main", (main) => main.dataset.sseState === "connected"),
        ms,
        () => `${tab.name}'s page to be connected`,
    );
}

/** A context of its own (cookie jar) for `name`, logged in on a page at `origin`. */
async function logIn(name, origin) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    contexts.push(context);
    const tab = await openTab(context, origin, name);
    await tab.page.fill("#login input[name=username]", name);
    await tab.page.click("#login button");
    await tab.page.waitForSelector("#send", { timeout: DEFAULT_TIMEOUT });
    await waitConnected(tab);
    return tab;
}

/** Posts `text` from `tab`'s page as its form does; resolves with whether it was accepted. */
function postFrom(tab, text) {
    return tab.page.evaluate(async (message) => {
        try {
            const response = await fetch("/api/chat", {
                method: "POST",
                headers: { "content-type": "application/x-www-form-urlencoded", "hx-request": "true" },
                body: new URLSearchParams({ message }),
            });
            return response.ok;
        } catch {
            return false;
        }
    }, text);
}

/** The protocol the page's own document and its event stream came over. */
function protocols(tab) {
    return tab.page.evaluate(() => ({
        page: performance.getEntriesByType("navigation")[0]?.nextHopProtocol,
        stream: performance
            .getEntriesByType("resource")
            .filter((entry) => entry.name.includes("/api/realtime"))
            .map((entry) => entry.nextHopProtocol),
    }));
}

let single;

test("behind nginx in front of one instance, over TLS and HTTP/2, two users chat in Chromium", async () => {
    const one = await instance();
    single = await nginx([one]);
    const ann = await logIn("ann", single.url);
    const bob = await logIn("bob", single.url);
    assert.ok(await postFrom(ann, "hello through nginx"), "ann's post accepted");
    assert.ok(await postFrom(bob, "and back"), "bob's post accepted");
    await expectEachOnce([ann, bob], ["hello through nginx", "and back"]);
    const seen = await protocols(ann);
    assert.equal(seen.page, "h2", `the page came over HTTP/2: ${JSON.stringify(seen)}`);
    for (const tab of [ann, bob]) {
        assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
    }
});

test("the PocketBase SDK subscribes through nginx and receives the chat", async () => {
    assert.ok(single, "the first test started nginx");
    const pb = new PocketBase(single.url);
    const received = [];
    const unsubscribe = await pb.realtime.subscribe("chat", (event) => received.push(event));
    try {
        const cy = await logIn("cy", single.url);
        assert.ok(await postFrom(cy, "to the SDK via nginx"), "cy's post accepted");
        await waitFor(
            () => received.some((event) => JSON.stringify(event).includes("to the SDK via nginx")),
            DEFAULT_TIMEOUT,
            () => `the SDK to receive the message (got ${JSON.stringify(received)})`,
        );
    } finally {
        await unsubscribe();
        pb.realtime.unsubscribe();
    }
});

test("behind nginx in front of two instances on Redis, a rolling restart loses no acknowledged message", async () => {
    const a = instances[0];
    const b = await instance();
    const pair = await nginx([a, b]);
    const tabs = [];
    for (const name of ["dee", "eve", "fay", "gus"]) tabs.push(await logIn(name, pair.url));
    assert.ok(await postFrom(tabs[0], "before the restart"), "the first post accepted");
    await expectEachOnce(tabs, ["before the restart"]);

    // One user keeps posting while instance A stops (SIGTERM), and after it is back.
    const acknowledged = [];
    let posting = true;
    const poster = (async () => {
        for (let i = 0; posting && i < 200; i++) {
            const text = `rolling ${i}`;
            if (await postFrom(tabs[1], text)) acknowledged.push(text);
            await sleep(100);
        }
    })();
    await sleep(500);
    const stopped = await a.restart();
    assert.equal(stopped.forced, false, "instance A stopped on SIGTERM, without SIGKILL");
    await sleep(1_500);
    posting = false;
    await poster;
    assert.ok(acknowledged.length >= 10, `posts were accepted during the restart: ${acknowledged.length}`);

    // Pages whose stream was on A resumed on B (or on A again) from their last position.
    await expectEachOnce(tabs, acknowledged, RECOVERY_TIMEOUT);
    for (const tab of tabs) await waitConnected(tab, RECOVERY_TIMEOUT);
    assert.ok(await postFrom(tabs[2], "after the restart"), "a post after the restart accepted");
    await expectEachOnce(tabs, ["after the restart"]);
    for (const tab of tabs) {
        assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
    }
});
