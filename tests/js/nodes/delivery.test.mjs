// Three nodes on one Redis behind a round-robin balancer: SDK clients subscribe
// through it (each subscription POST lands on another node than the client's
// stream, and is carried to the stream's node), and a send made on any node,
// JSON or captured HTML, reaches every client exactly once.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    QUIET_WINDOW,
    authedClient,
    newClient,
    rawPost,
    randomId,
    recorder,
    sleep,
    waitForCalls,
} from "../helpers.mjs";
import {
    NODES,
    captureOn,
    cleanupCluster,
    clusterState,
    mintToken,
    sendOn,
    subscribeAcross,
} from "./helpers.mjs";

afterEach(() => cleanupCluster());

/** Six guests subscribed to `key` through the balancer; resolves with [{pb, cb, stream}]. */
async function guestsOn(key) {
    const clients = [];
    for (let i = 0; i < 6; i++) {
        const pb = newClient();
        const cb = recorder();
        const { stream } = await subscribeAcross(pb, key, cb);
        clients.push({ pb, cb, stream });
    }
    const nodes = new Set(clients.map((c) => c.stream));
    assert.equal(nodes.size, NODES.length, "round-robin put streams on every node");
    return clients;
}

/** Waits until every client got `n` calls, then checks over a quiet window that none got more. */
async function expectEach(clients, n, what) {
    for (const [i, c] of clients.entries()) {
        await waitForCalls(c.cb, n, undefined, `${what}: client ${i} (on node ${c.stream}) to get ${n}`);
    }
    await sleep(QUIET_WINDOW);
    for (const [i, c] of clients.entries()) {
        assert.equal(c.cb.calls.length, n, `${what}: client ${i} (on node ${c.stream}) got each once`);
    }
}

test("a JSON send on any node reaches every SDK client on every node exactly once", async () => {
    const clients = await guestsOn("chat");
    const state = await clusterState();
    for (const index of NODES.keys()) {
        const res = await sendOn(index, "chat", { from: index });
        const local = Object.values(state.owner).filter((owner) => owner === index).length;
        assert.equal(res.reached, local, `node ${index} reached its own ${local} client(s)`);
    }
    await expectEach(clients, NODES.length, "three sends");
    const expected = [...NODES.keys()].map((from) => ({ from }));
    for (const c of clients) {
        const got = [...c.cb.calls].sort((a, b) => a.from - b.from);
        assert.deepEqual(got, expected);
    }
});

test("one node's sends arrive in send order on every node", async () => {
    const clients = await guestsOn("chat");
    for (let n = 0; n < 20; n++) await sendOn(1, "chat", { n });
    await expectEach(clients, 20, "twenty sends from node 1");
    const expected = [...Array(20).keys()].map((n) => ({ n }));
    for (const c of clients) assert.deepEqual(c.cb.calls, expected);
});

test("captured HTML, rendered once on the sending node, reaches every client exactly once", async () => {
    const clients = await guestsOn("captured-html");
    const sent = [];
    for (const index of NODES.keys()) {
        const { html } = await captureOn(index, `<b>node ${index}</b> & "co"`);
        assert.equal(html, `<p class="captured">&#60;b&#62;node ${index}&#60;/b&#62; &#38; &#34;co&#34;</p>`);
        sent.push(html);
    }
    await expectEach(clients, NODES.length, "three captures");
    for (const c of clients) assert.deepEqual([...c.cb.calls].sort(), [...sent].sort());
});

test("through the balancer, another node answers a POST as the stream's node does", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const tokenB = await mintToken({ id: "userB" });
    const pb = authedClient(tokenA, "userA");
    const cb = recorder();
    await subscribeAcross(pb, "chat", cb);
    const id = pb.realtime.clientId;
    // The next requests land on nodes in turn; every one answers with the owner's verdict.
    for (let i = 0; i < NODES.length; i++) {
        const other = await rawPost({ clientId: id, subscriptions: ["chat"] }, { Authorization: tokenB });
        assert.equal(other.status, 403, other.text);
        assert.equal(
            other.text,
            '{"data":{},"message":"The current and the previous request authorization don\'t match.","status":403}',
        );
        const unknown = await rawPost({ clientId: randomId(), subscriptions: ["chat"] });
        assert.equal(unknown.status, 404, unknown.text);
        assert.equal(unknown.text, '{"data":{},"message":"Missing or invalid client id.","status":404}');
        const own = await rawPost({ clientId: id, subscriptions: ["chat", "news"] }, { Authorization: tokenA });
        assert.equal(own.status, 204, own.text);
    }
    const state = await clusterState();
    assert.deepEqual(state.subscriptions[id], ["chat", "news"], "only userA's own requests took effect");
    await sendOn(2, "chat", "still here");
    await expectEach([{ cb, stream: state.owner[id] }], 1, "a send after the refused requests");
    assert.deepEqual(cb.calls, ["still here"]);
});
