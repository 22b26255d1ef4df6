// When the server ends the stream the SDK reports a disconnect, reconnects
// with a new client id, re-POSTs its keys, and receives again.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    cleanup,
    drop,
    newClient,
    recorder,
    send,
    waitFor,
    waitForCalls,
    waitForClients,
    waitForSubscribers,
} from "../helpers.mjs";

afterEach(() => cleanup());

test("after /test/drop the SDK reconnects under a new client id and receives again", async () => {
    const pb = newClient();
    const disconnects = [];
    pb.realtime.onDisconnect = (subs) => disconnects.push(subs);
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    const [firstId] = await waitForSubscribers("chat", 1);
    assert.equal(firstId, pb.realtime.clientId);

    const dropped = await drop();
    assert.equal(dropped.dropped, 1, `/test/drop answered ${JSON.stringify(dropped)}`);

    await waitFor(() => disconnects.length > 0, undefined, "onDisconnect to fire");
    assert.ok(Array.isArray(disconnects[0]));
    assert.ok(disconnects[0].includes("chat"), `onDisconnect(${JSON.stringify(disconnects[0])})`);

    // SDK retries after 200 ms, 300 ms, ...; the server must show the new client.
    const state = await waitForClients(
        (s) => {
            const ids = Object.entries(s.subscriptions || {})
                .filter(([, keys]) => keys.includes("chat"))
                .map(([id]) => id);
            return s.clients === 1 && ids.length === 1 && ids[0] !== firstId;
        },
        undefined,
        "exactly one client, with a new id, subscribed to chat",
    );
    const [secondId] = Object.keys(state.subscriptions).filter((id) =>
        state.subscriptions[id].includes("chat"),
    );
    assert.match(secondId, /^[A-Za-z0-9]{40}$/);
    assert.notEqual(secondId, firstId);
    await waitFor(
        () => pb.realtime.isConnected && pb.realtime.clientId === secondId,
        undefined,
        "the SDK to report the new connection",
    );

    assert.equal(await send("chat", { text: "after reconnect" }, "all"), 1);
    await waitForCalls(cb, 1, undefined, "the chat callback after reconnect");
    assert.deepEqual(cb.calls[0], { text: "after reconnect" });
    assert.equal(disconnects.length, 1, "exactly one disconnect reported");
});
