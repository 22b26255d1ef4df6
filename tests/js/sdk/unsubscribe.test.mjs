// Unsubscribing re-POSTs the remaining keys; removing the last listener
// closes the stream, and the server forgets the client.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    cleanup,
    newClient,
    recorder,
    waitForClients,
    waitForNoClients,
    waitForSubscribers,
} from "../helpers.mjs";

afterEach(() => cleanup());

test("unsubscribing the only listener closes the stream; the server drops the client", async () => {
    const pb = newClient();
    const disconnects = [];
    pb.realtime.onDisconnect = (subs) => disconnects.push(subs);
    const unsubscribe = await pb.realtime.subscribe("chat", recorder());
    await waitForSubscribers("chat", 1);
    assert.equal(pb.realtime.isConnected, true);

    await unsubscribe();
    await waitForNoClients();
    assert.equal(pb.realtime.isConnected, false);
    assert.deepEqual(disconnects, [[]], "onDisconnect([]) from the SDK's own close");
});

test("unsubscribing one of two topics re-POSTs the rest; the last one closes the stream", async () => {
    const pb = newClient();
    const unsubChat = await pb.realtime.subscribe("chat", recorder());
    const unsubNews = await pb.realtime.subscribe("news", recorder());
    const id = pb.realtime.clientId;
    await waitForClients(
        (s) => s.clients === 1 && [...(s.subscriptions?.[id] || [])].sort().join() === "chat,news",
        undefined,
        "one client subscribed to chat and news",
    );

    await unsubChat();
    await waitForClients(
        (s) => s.clients === 1 && (s.subscriptions?.[id] || []).join() === "news",
        undefined,
        "the subscription set replaced by [news]",
    );
    assert.equal(pb.realtime.isConnected, true);
    assert.equal(pb.realtime.clientId, id, "same stream");

    await unsubNews();
    await waitForNoClients();
    assert.equal(pb.realtime.isConnected, false);
});
