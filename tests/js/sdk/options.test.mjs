// Subscription options travel inside the key; sends on a topic reach every
// key of that topic, and the server's room filter uses options.query.roomId.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    QUIET_WINDOW,
    cleanup,
    getClients,
    newClient,
    recorder,
    send,
    sleep,
    waitForCalls,
    waitForClients,
} from "../helpers.mjs";

afterEach(() => cleanup());

// What the SDK 0.28 puts on the wire for subscribe('chat', cb, {query: {roomId: 'r1'}}).
const OPTIONS_KEY =
    "chat?options=" + encodeURIComponent(JSON.stringify({ query: { roomId: "r1" } }));

async function setup() {
    const withOpts = newClient();
    const plain = newClient();
    const cbOpts = recorder();
    const cbPlain = recorder();
    await withOpts.realtime.subscribe("chat", cbOpts, { query: { roomId: "r1" } });
    await plain.realtime.subscribe("chat", cbPlain);

    const state = await waitForClients(
        (s) =>
            s.subscriptions?.[withOpts.realtime.clientId]?.includes(OPTIONS_KEY) &&
            s.subscriptions?.[plain.realtime.clientId]?.includes("chat"),
        undefined,
        "both clients' subscriptions",
    );
    return { withOpts, plain, cbOpts, cbPlain, state };
}

test("the options key is stored exactly as the SDK sent it", async () => {
    const { withOpts, state } = await setup();
    assert.equal(OPTIONS_KEY, "chat?options=%7B%22query%22%3A%7B%22roomId%22%3A%22r1%22%7D%7D");
    assert.deepEqual(state.subscriptions[withOpts.realtime.clientId], [OPTIONS_KEY]);
});

test("a send on chat reaches the options subscriber and the plain one", async () => {
    const { cbOpts, cbPlain } = await setup();
    const reached = await send("chat", { text: "to all", n: 2 }, "all");
    assert.equal(reached, 2);
    await waitForCalls(cbOpts, 1, undefined, "the options subscriber's callback");
    await waitForCalls(cbPlain, 1, undefined, "the plain subscriber's callback");
    assert.deepEqual(cbOpts.calls[0], { text: "to all", n: 2 });
    assert.deepEqual(cbPlain.calls[0], { text: "to all", n: 2 });
    await sleep(QUIET_WINDOW / 2);
    assert.equal(cbOpts.calls.length, 1, "options subscriber: exactly once");
    assert.equal(cbPlain.calls.length, 1, "plain subscriber: exactly once");
});

test('filter {"room":"r1"} reaches only the client whose options.query.roomId is r1', async () => {
    const { cbOpts, cbPlain } = await setup();
    const reached = await send("chat", { text: "room r1" }, { room: "r1" });
    assert.equal(reached, 1);
    await waitForCalls(cbOpts, 1, undefined, "the options subscriber's callback");
    assert.deepEqual(cbOpts.calls[0], { text: "room r1" });
    await sleep(QUIET_WINDOW);
    assert.equal(cbPlain.calls.length, 0, "the plain subscriber must not receive a room message");

    // another room reaches nobody
    assert.equal(await send("chat", { text: "room r2" }, { room: "r2" }), 0);
    await sleep(QUIET_WINDOW / 2);
    assert.equal(cbOpts.calls.length, 1);
    assert.equal(cbPlain.calls.length, 0);
    assert.equal((await getClients()).clients, 2);
});
