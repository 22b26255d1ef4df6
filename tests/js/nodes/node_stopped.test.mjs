// A node stops while SDK clients are connected to it: their streams end, the
// SDK reconnects through the balancer (which skips the node that refuses) to a
// live node, gets a new client id there, resubscribes, and receives later
// sends, made on either live node, exactly once. The other nodes' clients
// notice nothing.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { QUIET_WINDOW, newClient, recorder, sleep, waitFor, waitForCalls } from "../helpers.mjs";
import {
    NODES,
    cleanupCluster,
    forwarded,
    liveNodes,
    sendOn,
    stopNode,
    subscribeAcross,
    waitForCluster,
} from "./helpers.mjs";

afterEach(() => cleanupCluster());

/** The SDK's reconnect backoff (200 ms, 300 ms, 500 ms, ...) and a stop, with room to spare. */
const RECONNECT_TIMEOUT = 15_000;

test("the clients of a stopped node reconnect to another node and keep receiving", async () => {
    const clients = [];
    for (let i = 0; i < 6; i++) {
        const pb = newClient();
        const cb = recorder();
        const disconnects = [];
        pb.realtime.onDisconnect = (keys) => disconnects.push(keys);
        const { stream } = await subscribeAcross(pb, "chat", cb);
        clients.push({ pb, cb, disconnects, stream, firstId: pb.realtime.clientId });
    }
    const victims = clients.filter((c) => c.stream === 0);
    const survivors = clients.filter((c) => c.stream !== 0);
    assert.ok(victims.length > 0 && survivors.length > 0, "node 0 and the others hold clients");

    await sendOn(0, "chat", "before");
    for (const c of clients) await waitForCalls(c.cb, 1, undefined, "the send before the stop");

    const before = (await forwarded()).length;
    await stopNode(0);
    for (const c of victims) {
        await waitFor(() => c.disconnects.length > 0, RECONNECT_TIMEOUT, "the SDK to report the disconnect");
        assert.ok(c.disconnects[0].includes("chat"), `onDisconnect(${JSON.stringify(c.disconnects[0])})`);
    }
    // Every client is connected again, each under an id a live node holds, subscribed to chat.
    const state = await waitForCluster(
        (s) =>
            clients.every(
                (c) =>
                    c.pb.realtime.isConnected &&
                    s.owner[c.pb.realtime.clientId] !== undefined &&
                    s.subscriptions[c.pb.realtime.clientId].includes("chat"),
            ) && s.clients === clients.length,
        RECONNECT_TIMEOUT,
        "every client to be connected and subscribed on a live node",
    );
    for (const c of victims) {
        assert.notEqual(c.pb.realtime.clientId, c.firstId, "a reconnected client has a new id");
        assert.ok(liveNodes().includes(state.owner[c.pb.realtime.clientId]));
    }
    for (const c of survivors) {
        assert.equal(c.pb.realtime.clientId, c.firstId, "the other nodes' clients kept their streams");
        assert.deepEqual(c.disconnects, [], "the other nodes' clients noticed nothing");
    }
    const after = (await forwarded()).slice(before);
    assert.ok(after.length >= 2 * victims.length, "the reconnects went through the balancer");
    assert.ok(
        after.every((r) => r.upstream !== 0),
        `nothing was forwarded to the stopped node: ${JSON.stringify(after)}`,
    );

    for (const index of liveNodes()) await sendOn(index, "chat", { from: index });
    const expected = ["before", ...liveNodes().map((from) => ({ from }))];
    for (const c of clients) await waitForCalls(c.cb, expected.length, undefined, "the sends after the stop");
    await sleep(QUIET_WINDOW);
    for (const [i, c] of clients.entries()) {
        const [first, ...rest] = c.cb.calls;
        assert.deepEqual(
            [first, ...rest.sort((a, b) => a.from - b.from)],
            expected,
            `client ${i} (first on node ${c.stream}) got each send once`,
        );
    }
    assert.equal(NODES.length - liveNodes().length, 1);
});
