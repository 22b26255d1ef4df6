// Who receives a send: the default filter (by the sender's auth) and the
// custom filters of /test/send, observed through real SDK clients.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    QUIET_WINDOW,
    authedClient,
    cleanup,
    mintToken,
    newClient,
    recorder,
    send,
    sleep,
    waitForCalls,
    waitForClients,
    waitForSubscribers,
} from "../helpers.mjs";

afterEach(() => cleanup());

/** Subscribes a client to `chat` and returns {pb, cb}. */
async function onChat(pb) {
    const cb = recorder();
    await pb.realtime.subscribe("chat", cb);
    return { pb, cb };
}

/** userA, userB and a guest, all on chat. */
async function trio() {
    const tokenA = await mintToken({ id: "userA", email: "a@example.com", verified: true });
    const tokenB = await mintToken({ id: "userB", email: "b@example.com" });
    const a = await onChat(authedClient(tokenA, "userA"));
    const b = await onChat(authedClient(tokenB, "userB"));
    const guest = await onChat(newClient());
    return { tokenA, tokenB, a, b, guest };
}

/**
 * Sends, checks `reached`, waits for every expected receiver, then checks
 * over a quiet window that every other client got nothing.
 */
async function expectDelivery({ data, filter, auth, receivers, others, what }) {
    const reached = await send("chat", data, filter, { auth });
    assert.equal(reached, receivers.length, `${what}: reached`);
    for (const [name, c] of receivers) {
        await waitForCalls(c.cb, 1, undefined, `${what}: ${name} to receive`);
    }
    await sleep(QUIET_WINDOW);
    for (const [name, c] of receivers) {
        assert.equal(c.cb.calls.length, 1, `${what}: ${name} received exactly once`);
        assert.deepEqual(c.cb.calls[0], data, `${what}: ${name} payload`);
    }
    for (const [name, c] of others) {
        assert.equal(c.cb.calls.length, 0, `${what}: ${name} must receive nothing`);
    }
}

test("default filter sent as userA reaches only userA", async () => {
    const { tokenA, a, b, guest } = await trio();
    await waitForSubscribers("chat", 3);
    await expectDelivery({
        what: "default as userA",
        data: { text: "for A" },
        filter: "default",
        auth: tokenA,
        receivers: [["userA", a]],
        others: [["userB", b], ["guest", guest]],
    });
});

test("default filter sent as userA reaches both of userA's tabs", async () => {
    const { tokenA, a, b, guest } = await trio();
    const a2 = await onChat(authedClient(tokenA, "userA"));
    await waitForSubscribers("chat", 4);
    await expectDelivery({
        what: "default as userA, two tabs",
        data: { text: "for both A tabs" },
        filter: "default",
        auth: tokenA,
        receivers: [["userA tab 1", a], ["userA tab 2", a2]],
        others: [["userB", b], ["guest", guest]],
    });
});

test("default filter sent as a guest reaches everyone", async () => {
    const { a, b, guest } = await trio();
    await waitForSubscribers("chat", 3);
    await expectDelivery({
        what: "default as guest",
        data: { text: "for all" },
        filter: "default",
        receivers: [["userA", a], ["userB", b], ["guest", guest]],
        others: [],
    });
});

test('filter {"user":"userB"} reaches only userB', async () => {
    const { a, b, guest } = await trio();
    await waitForSubscribers("chat", 3);
    await expectDelivery({
        what: "user userB",
        data: { text: "for B" },
        filter: { user: "userB" },
        receivers: [["userB", b]],
        others: [["userA", a], ["guest", guest]],
    });
});

test('filter {"superuser":true} reaches only the superuser', async () => {
    const { a, b, guest } = await trio();
    const tokenS = await mintToken({ id: "admin1", superuser: true });
    const s = await onChat(authedClient(tokenS, "admin1", "_superusers"));
    await waitForSubscribers("chat", 4);
    await expectDelivery({
        what: "superuser",
        data: { text: "for superusers" },
        filter: { superuser: true },
        receivers: [["superuser", s]],
        others: [["userA", a], ["userB", b], ["guest", guest]],
    });
});

test('filter {"role":"moderator"} reaches only the moderator', async () => {
    const { a, b, guest } = await trio();
    const tokenM = await mintToken({ id: "mod1", role: "moderator" });
    const m = await onChat(authedClient(tokenM, "mod1"));
    await waitForSubscribers("chat", 4);
    await expectDelivery({
        what: "role moderator",
        data: { text: "for moderators" },
        filter: { role: "moderator" },
        receivers: [["moderator", m]],
        others: [["userA", a], ["userB", b], ["guest", guest]],
    });
});

test('filter {"subscribed":"news"} reaches only clients also subscribed to news', async () => {
    const { a, b, guest } = await trio();
    const news = recorder();
    await b.pb.realtime.subscribe("news", news);
    const bId = b.pb.realtime.clientId;
    await waitForClients(
        (st) => [...(st.subscriptions?.[bId] || [])].sort().join() === "chat,news",
        undefined,
        "userB's client subscribed to chat and news",
    );
    await waitForSubscribers("chat", 3);
    await expectDelivery({
        what: "subscribed news",
        data: { text: "for news readers" },
        filter: { subscribed: "news" },
        receivers: [["userB (chat+news)", b]],
        others: [["userA", a], ["guest", guest]],
    });
    assert.equal(news.calls.length, 0, "a send on chat is not delivered to the news listener");
});
