// Filters across nodes: the clients sit on three nodes behind the balancer,
// each filter is sent once from every node, and each reaches exactly the
// clients it accepts, wherever they are: the default filter (the sender's
// user, on two tabs on two nodes; everyone for a guest), a user, superusers, a
// role, a room stored by the subscribe hook (which ran on the client's node),
// the same room through a #[filter] function, another subscription, and a
// combination.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { QUIET_WINDOW, authedClient, newClient, recorder, sleep, waitForCalls } from "../helpers.mjs";
import { NODES, cleanupCluster, mintToken, sendOn, subscribeAcross } from "./helpers.mjs";

let tokenA;
const cast = {};

/** Subscribes `pb` to `chat` (with `options`) through the balancer as cast member `name`. */
async function join(name, pb, options) {
    const cb = recorder();
    const { stream } = await subscribeAcross(pb, "chat", cb, options);
    cast[name] = { pb, cb, stream };
}

const ROOM_7 = { query: { roomId: "7" } };

before(async () => {
    tokenA = await mintToken({ id: "userA" });
    await join("userA tab 1", authedClient(tokenA, "userA"));
    await join("userA tab 2", authedClient(tokenA, "userA"));
    await join("userB", authedClient(await mintToken({ id: "userB" }), "userB"));
    await join("guest", newClient());
    await join("superuser", authedClient(await mintToken({ id: "admin1", superuser: true }), "admin1", "_superusers"));
    await join("moderator in room 7", authedClient(await mintToken({ id: "mod1", role: "moderator" }), "mod1"), ROOM_7);
    await join("guest in room 7", newClient(), ROOM_7);
    // userB also reads news: a second key on the same client, through the balancer again.
    await cast.userB.pb.realtime.subscribe("news", () => {});
    assert.notEqual(cast["userA tab 1"].stream, cast["userA tab 2"].stream, "userA's tabs are on two nodes");
    assert.equal(new Set(Object.values(cast).map((c) => c.stream)).size, NODES.length, "every node holds a client");
});

afterEach(() => {
    for (const c of Object.values(cast)) c.cb.calls.length = 0;
});

after(() => cleanupCluster());

/**
 * Sends `filter` on chat from every node in turn, then checks that exactly `receivers` got
 * each send once (in send order: one publisher per node, the nodes one after another) and
 * everyone else nothing.
 */
async function expectReceivers(filter, receivers, { auth } = {}) {
    const what = JSON.stringify(filter);
    const sent = [];
    for (const index of NODES.keys()) {
        const data = { filter: what, from: index };
        await sendOn(index, "chat", data, filter, { auth });
        sent.push(data);
    }
    for (const name of receivers) {
        assert.ok(cast[name], `no cast member ${name}`);
        await waitForCalls(cast[name].cb, sent.length, undefined, `${what}: ${name} to get ${sent.length}`);
    }
    await sleep(QUIET_WINDOW);
    for (const [name, c] of Object.entries(cast)) {
        const expected = receivers.includes(name) ? sent : [];
        const got = [...c.cb.calls].sort((a, b) => a.from - b.from);
        assert.deepEqual(got, expected, `${what}: what ${name} (on node ${c.stream}) received`);
    }
}

const EVERYONE = [
    "userA tab 1",
    "userA tab 2",
    "userB",
    "guest",
    "superuser",
    "moderator in room 7",
    "guest in room 7",
];

test("all: everyone", () => expectReceivers("all", EVERYONE));

test("default, sent as userA: both of userA's tabs, on two nodes", () =>
    expectReceivers("default", ["userA tab 1", "userA tab 2"], { auth: tokenA }));

test("default, sent as a guest: everyone", () => expectReceivers("default", EVERYONE));

test("a user", () => expectReceivers({ user: "userB" }, ["userB"]));

test("superusers", () => expectReceivers({ superuser: true }, ["superuser"]));

test("a field of the auth record (role)", () => expectReceivers({ role: "moderator" }, ["moderator in room 7"]));

test("a value the subscribe hook stored on the client (room)", () =>
    expectReceivers({ room: "7" }, ["moderator in room 7", "guest in room 7"]));

test("a #[filter] function, by name and argument (room)", () =>
    expectReceivers({ roomFn: "7" }, ["moderator in room 7", "guest in room 7"]));

test("another subscription of the client (news)", () => expectReceivers({ subscribed: "news" }, ["userB"]));

test("a combination: room 7 and the moderator role", () =>
    expectReceivers({ room: "7", role: "moderator" }, ["moderator in room 7"]));

test("a combination nobody matches", () => expectReceivers({ room: "8", role: "moderator" }, []));
