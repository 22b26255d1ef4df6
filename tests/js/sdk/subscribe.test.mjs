// The SDK subscribes to a topic and receives what the server sends on it.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    QUIET_WINDOW,
    cleanup,
    newClient,
    openRawStream,
    rawPost,
    recorder,
    send,
    sleep,
    waitForCalls,
    waitForSubscribers,
} from "../helpers.mjs";

afterEach(() => cleanup());

test("subscribe to chat, receive a JSON object exactly once", async () => {
    const pb = newClient();
    const cb = recorder();
    const unsubscribe = await pb.realtime.subscribe("chat", cb);
    assert.equal(typeof unsubscribe, "function");
    assert.equal(pb.realtime.isConnected, true, "isConnected after subscribe()");

    const [id] = await waitForSubscribers("chat", 1);
    assert.equal(id, pb.realtime.clientId, "the server's client id is the SDK's clientId");
    assert.match(pb.realtime.clientId, /^[A-Za-z0-9]{40}$/);

    const reached = await send("chat", { text: "hi", n: 1 }, "all");
    assert.equal(reached, 1, "/test/send reached");

    await waitForCalls(cb, 1, undefined, "the chat callback");
    assert.deepEqual(cb.calls[0], { text: "hi", n: 1 });

    await sleep(QUIET_WINDOW / 2);
    assert.equal(cb.calls.length, 1, "delivered exactly once");
    assert.equal(pb.realtime.isConnected, true);

    await unsubscribe();
});

test("a string payload (rendered HTML with a newline) arrives as that exact string", async () => {
    const html = '<div class="m">\n hi</div>';
    const pb = newClient();
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    await waitForSubscribers("chat", 1);

    assert.equal(await send("chat", html, "all"), 1);
    await waitForCalls(cb, 1, undefined, "the chat callback");
    assert.equal(cb.calls[0], html);
    assert.equal(cb.calls.length, 1);
});

test("on the wire the string payload is one JSON-encoded data line", async () => {
    const html = '<div class="m">\n hi</div>';
    const stream = await openRawStream({ keepOpen: true });
    const r = await rawPost({ clientId: stream.clientId, subscriptions: ["chat"] });
    assert.equal(r.status, 204, `subscribe POST: ${r.text}`);
    await waitForSubscribers("chat", 1);

    assert.equal(await send("chat", html, "all"), 1);
    const ev = await stream.readEvent();
    assert.equal(ev.event, "chat");
    assert.equal(ev.dataLines, 1, `exactly one data: line in ${JSON.stringify(ev.raw)}`);
    assert.doesNotMatch(ev.data, /[\r\n]/);
    assert.equal(JSON.parse(ev.data), html);
    assert.match(ev.raw, /^id:[^\n]*\nevent:chat\ndata:[^\n]*\n\n$/, `raw event ${JSON.stringify(ev.raw)}`);
    await stream.close();
});
