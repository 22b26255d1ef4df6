// Shared code of the tests of several nodes behind a round-robin balancer
// (tests/tests/js_nodes.rs starts them). The SDK clients of ../helpers.mjs
// connect to REALTIME_URL, the balancer; the control endpoints are called on
// each node directly, from NODE_URLS, since through the balancer a request
// lands on whichever node is next. HARNESS_URL is the Rust test's own server:
// it stops a node, and tells where the balancer sent each request.
//
// Every wait has a timeout (DEFAULT_TIMEOUT unless told).

import assert from "node:assert/strict";
import { DEFAULT_TIMEOUT, cleanup, summarizeClients, waitFor } from "../helpers.mjs";

function required(name, example) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set (e.g. ${example}); tests/tests/js_nodes.rs sets it`);
    }
    return value.replace(/\/+$/, "");
}

/** Every node's origin, in the balancer's order (index = the balancer's upstream index). */
export const NODES = required("NODE_URLS", "NODE_URLS=http://127.0.0.1:8091,http://127.0.0.1:8092")
    .split(",")
    .map((url) => url.replace(/\/+$/, ""));

const HARNESS = required("HARNESS_URL", "HARNESS_URL=http://127.0.0.1:8099");

const stopped = new Set();

/** The indexes of the nodes still running. */
export function liveNodes() {
    return NODES.map((_, index) => index).filter((index) => !stopped.has(index));
}

async function call(base, method, path, body, headers = {}) {
    const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(DEFAULT_TIMEOUT) };
    if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${base}${path} answered ${res.status}: ${text}`);
    return JSON.parse(text);
}

/**
 * POST /test/send on node `index`; `filter` as in ../README.md. Resolves with
 * {reached, otherNodes}: `reached` counts that node's own clients only.
 */
export async function sendOn(index, topic, data, filter = "all", { auth } = {}) {
    const headers = auth ? { Authorization: auth } : {};
    const res = await call(NODES[index], "POST", "/test/send", { topic, data, filter }, headers);
    assert.equal(res.otherNodes, "published", `node ${index}'s send went on to the other nodes`);
    return res;
}

/**
 * POST /test/capture on node `index`: renders `<p class="captured">{text}</p>` there, once,
 * and sends the HTML on channel `captured-html`. Resolves with {html, reached, otherNodes}.
 */
export async function captureOn(index, text, filter = "all", { auth } = {}) {
    const headers = auth ? { Authorization: auth } : {};
    const res = await call(NODES[index], "POST", "/test/capture", { text, filter }, headers);
    assert.equal(res.otherNodes, "published", `node ${index}'s capture went on to the other nodes`);
    return res;
}

/** POST /test/token on any live node (every node signs with the same secret). */
export async function mintToken(claims) {
    const res = await call(NODES[liveNodes()[0]], "POST", "/test/token", claims);
    return res.token;
}

/**
 * The clients of every live node: {nodes: {index: state}, owner: {clientId: index},
 * subscriptions: {clientId: [key, ...]}, clients: total}.
 */
export async function clusterState() {
    const nodes = {};
    const owner = {};
    const subscriptions = {};
    let clients = 0;
    for (const index of liveNodes()) {
        const state = await call(NODES[index], "GET", "/test/clients");
        nodes[index] = state;
        clients += state.clients;
        for (const [id, keys] of Object.entries(state.subscriptions)) {
            assert.equal(owner[id], undefined, `client ${id} is on nodes ${owner[id]} and ${index}`);
            owner[id] = index;
            subscriptions[id] = keys;
        }
    }
    return { nodes, owner, subscriptions, clients };
}

/** Polls clusterState() until `pred(state)` holds; resolves with the state. */
export function waitForCluster(pred, ms = DEFAULT_TIMEOUT, what = "the cluster's client state") {
    let last;
    return waitFor(
        async () => {
            last = await clusterState();
            return pred(last) && last;
        },
        ms,
        () => {
            const nodes = Object.entries(last?.nodes ?? {}).map(
                ([index, state]) => `node ${index}: ${summarizeClients(state)}`,
            );
            return `${what} (last: ${nodes.join("; ")})`;
        },
    );
}

/** Where the balancer sent each request so far: [{method, path, upstream}]. */
export function forwarded() {
    return call(HARNESS, "GET", "/balancer/forwarded");
}

/** Stops node `index` (the Rust side ends its streams and closes it); resolves once it is down. */
export async function stopNode(index) {
    await call(HARNESS, "POST", `/nodes/${index}/stop`);
    stopped.add(index);
}

/**
 * Subscribes a fresh SDK client (`pb`, not connected yet) to `key` through the balancer, and
 * checks where its two requests went: the stream (GET) to one node, the subscription (POST)
 * to the next one in turn, another node, which carried it to the stream's node. Nothing
 * else may use the balancer meanwhile. Resolves with {stream, post}, the two nodes' indexes.
 */
export async function subscribeAcross(pb, key, callback, options) {
    const before = (await forwarded()).length;
    await waitFor(pb.realtime.subscribe(key, callback, options), DEFAULT_TIMEOUT, `subscribe(${key})`);
    const requests = (await forwarded()).slice(before);
    assert.deepEqual(
        requests.map((r) => `${r.method} ${r.path}`),
        ["GET /api/realtime", "POST /api/realtime"],
        `one stream and one subscription request went through the balancer`,
    );
    const [stream, post] = requests.map((r) => r.upstream);
    assert.notEqual(post, stream, "the subscription POST landed on another node than the stream");
    const state = await clusterState();
    const id = pb.realtime.clientId;
    assert.equal(state.owner[id], stream, `client ${id} is held by the node that got its GET`);
    assert.ok(
        state.subscriptions[id].some((k) => k === key || k.startsWith(`${key}?`)),
        `the owner holds ${key} for ${id}: ${JSON.stringify(state.subscriptions[id])}`,
    );
    return { stream, post };
}

/**
 * Closes every SDK client (../helpers.mjs' cleanup, without its single-server wait), then
 * waits until no live node holds a client, so the next test starts from a clean cluster.
 */
export async function cleanupCluster() {
    await cleanup({ waitIdle: false });
    await waitForCluster((s) => s.clients === 0, DEFAULT_TIMEOUT, "every node to report 0 clients");
}
