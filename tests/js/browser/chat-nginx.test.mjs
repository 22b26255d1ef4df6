// examples/chat deployed behind Debian's nginx (TLS and HTTP/2 toward the browser, as
// docs/deploy.md configures it), in headless Chromium and with the PocketBase SDK: first in
// front of one instance, then in front of two instances sharing Redis and one data directory,
// and a rolling restart of one of the two while a user keeps posting: every acknowledged
// message shows once on every page, and every page keeps receiving; then one of the two is
// killed (SIGKILL) under pages and SDK clients, which reconnect to the other through nginx.
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

import { DEFAULT_TIMEOUT, expectEachOnce, launchBrowser, openPage, sleep, startExample, waitFor } from "./helpers.mjs";
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
    const tab = await openPage(context, origin, name);
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

/**
 * Posts from `tab` every 100 ms (the `i`th text `textOf(i)`) from half a second before
 * `disruption()` until 1.5 s after it has resolved; resolves with the texts whose post was
 * accepted and what `disruption()` resolved with.
 */
async function postWhile(tab, textOf, disruption) {
    const acknowledged = [];
    let posting = true;
    const poster = (async () => {
        for (let i = 0; posting && i < 200; i++) {
            const text = textOf(i);
            if (await postFrom(tab, text)) acknowledged.push(text);
            await sleep(100);
        }
    })();
    await sleep(500);
    const outcome = await disruption();
    await sleep(1_500);
    posting = false;
    await poster;
    return { acknowledged, outcome };
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
    const { acknowledged, outcome: stopped } = await postWhile(tabs[1], (i) => `rolling ${i}`, () => a.restart());
    assert.equal(stopped.forced, false, "instance A stopped on SIGTERM, without SIGKILL");
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

/** What `instance` itself (not nginx) says in its `GET /metrics`. */
async function figures(instance) {
    const response = await fetch(`${instance.url}/metrics`, { signal: AbortSignal.timeout(DEFAULT_TIMEOUT) });
    const text = await response.text();
    const value = (name) => {
        const line = text.split("\n").find((l) => l.startsWith(`${name} `));
        return line ? Number(line.slice(name.length + 1)) : 0;
    };
    return {
        openStreams: value("realtime_open_streams"),
        subscribed: value('realtime_subscriptions_total{status="204"}'),
    };
}

/** The tag `instance` starts its client ids with: the id of a stream opened on it directly. */
async function tagOf(instance) {
    const pb = new PocketBase(instance.url);
    await pb.realtime.subscribe("tag-probe", () => {});
    const tag = pb.realtime.clientId.slice(0, 8);
    pb.realtime.unsubscribe();
    return tag;
}

/** How many of the SDK client's events carry `text`. */
function timesReceived(sdk, text) {
    return sdk.received.filter((event) => JSON.stringify(event).includes(text)).length;
}

test("behind nginx, an instance killed (SIGKILL) under its pages and SDK clients: they reconnect to the other and keep receiving", async () => {
    assert.equal(instances.length, 2, "the rolling-restart test left two instances on Redis");
    const [a, b] = instances;
    for (const context of contexts.splice(0)) await context.close();
    const tags = [await tagOf(a), await tagOf(b)];
    const pair = await nginx([a, b]);
    const tabs = [];
    for (const name of ["hal", "ivy", "jon", "kit"]) tabs.push(await logIn(name, pair.url));
    const sdks = [];
    try {
        for (let i = 0; i < 6; i++) {
            const sdk = { pb: new PocketBase(pair.url), received: [], disconnects: 0 };
            sdk.pb.realtime.onDisconnect = () => sdk.disconnects++;
            await sdk.pb.realtime.subscribe("chat", (event) => sdk.received.push(event));
            sdks.push(sdk);
        }
        const streams = tabs.length + sdks.length;
        let held = [];
        await waitFor(
            async () => {
                held = [await figures(a), await figures(b)];
                return held[0].openStreams + held[1].openStreams === streams;
            },
            DEFAULT_TIMEOUT,
            () => `${streams} streams across both instances (${JSON.stringify(held)})`,
        );
        // The instance holding more of the SDK clients dies, so some surely were on it.
        const onA = sdks.filter((sdk) => sdk.pb.realtime.clientId.startsWith(tags[0])).length;
        const [victim, survivor, survivorTag] = onA * 2 >= sdks.length ? [a, b, tags[1]] : [b, a, tags[0]];
        const victims = sdks.filter((sdk) => !sdk.pb.realtime.clientId.startsWith(survivorTag));
        const bystanders = sdks.filter((sdk) => sdk.pb.realtime.clientId.startsWith(survivorTag));
        assert.ok(victims.length >= 3, `the victim holds ${victims.length} of the SDK clients`);

        assert.ok(await postFrom(tabs[0], "before-the-kill"), "the first post accepted");
        await expectEachOnce(tabs, ["before-the-kill"]);
        await waitFor(
            () => sdks.every((sdk) => timesReceived(sdk, "before-the-kill") === 1),
            DEFAULT_TIMEOUT,
            "every SDK client to receive the first post",
        );
        const subscribedBefore = (await figures(survivor)).subscribed;

        // One user keeps posting while the victim is killed: no graceful end of its streams,
        // nothing flushed on the way out.
        const { acknowledged, outcome: killed } = await postWhile(
            tabs[1],
            (i) => `killed-${String(i).padStart(3, "0")}`,
            () => victim.kill(),
        );
        assert.equal(killed.signal, "SIGKILL", `the victim died of SIGKILL: ${JSON.stringify(killed)}`);
        assert.ok(acknowledged.length >= 10, `posts were accepted around the kill: ${acknowledged.length}`);

        // Every page resumed (or kept) its stream on the survivor: each acknowledged post once.
        await expectEachOnce(tabs, acknowledged, RECOVERY_TIMEOUT);
        for (const tab of tabs) await waitConnected(tab, RECOVERY_TIMEOUT);
        // The SDK clients of the victim reconnected through nginx and subscribed again there.
        let now = {};
        await waitFor(
            async () => {
                now = await figures(survivor);
                return now.openStreams === streams && now.subscribed >= subscribedBefore + victims.length;
            },
            RECOVERY_TIMEOUT,
            () => `every stream open and subscribed on the survivor (${JSON.stringify(now)})`,
        );
        for (const sdk of victims) {
            assert.ok(sdk.disconnects > 0, "the SDK reported the lost stream");
            assert.ok(sdk.pb.realtime.clientId.startsWith(survivorTag), "reconnected to the survivor");
        }
        for (const sdk of bystanders) {
            assert.equal(sdk.disconnects, 0, "the survivor's SDK clients noticed nothing");
            for (const text of acknowledged) assert.equal(timesReceived(sdk, text), 1, `${text} once`);
        }

        assert.ok(await postFrom(tabs[2], "after-the-kill"), "a post after the kill accepted");
        await expectEachOnce(tabs, ["after-the-kill"]);
        await waitFor(
            () => sdks.every((sdk) => timesReceived(sdk, "after-the-kill") === 1),
            DEFAULT_TIMEOUT,
            "every SDK client, the victim's included, to receive the post after the kill",
        );
        await sleep(1_000);
        for (const sdk of sdks) assert.equal(timesReceived(sdk, "after-the-kill"), 1, "once, not twice");
        for (const tab of tabs) {
            assert.deepEqual(tab.seen.pageErrors, [], `${tab.name}: no page errors`);
        }
    } finally {
        for (const sdk of sdks) sdk.pb.realtime.unsubscribe();
    }
});
