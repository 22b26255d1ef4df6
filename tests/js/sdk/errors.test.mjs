// Byte-for-byte checks of the raw protocol: the GET stream's headers and
// first bytes, and every POST /api/realtime error body (PROTOCOL.md §2, §3).
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
    cleanup,
    getClients,
    mintToken,
    openRawStream,
    randomId,
    rawPost,
    waitForClients,
} from "../helpers.mjs";

afterEach(() => cleanup());

const BODY = {
    unparsable:
        '{"data":{},"message":"Something went wrong while processing your request.","status":400}',
    noClientId:
        '{"data":{"clientId":{"code":"validation_required","message":"Cannot be blank."}},"message":"Something went wrong while processing your request.","status":400}',
    tooMany:
        '{"data":{"subscriptions":{"code":"validation_length_too_long","message":"The length must be no more than 1000.","params":{"max":1000,"min":0}}},"message":"Something went wrong while processing your request.","status":400}',
    keyTooLongAt1:
        '{"data":{"subscriptions":{"1":{"code":"validation_length_too_long","message":"The length must be no more than 2500.","params":{"max":2500,"min":0}}}},"message":"Something went wrong while processing your request.","status":400}',
    unknownClient: '{"data":{},"message":"Missing or invalid client id.","status":404}',
    authMismatch:
        '{"data":{},"message":"The current and the previous request authorization don\'t match.","status":403}',
};

function assertError(res, status, body, what) {
    assert.equal(res.status, status, `${what}: status (body ${JSON.stringify(res.text)})`);
    assert.equal(res.text, body, `${what}: exact body`);
    const ct = res.headers.get("content-type") || "";
    assert.match(ct, /^application\/json\s*(;|$)/i, `${what}: content-type ${JSON.stringify(ct)}`);
}

function assertNoContent(res, what) {
    assert.equal(res.status, 204, `${what}: status (body ${JSON.stringify(res.text)})`);
    assert.equal(res.text, "", `${what}: empty body`);
}

const subs = (n, prefix = "t") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// --- the GET stream -------------------------------------------------------------

test("GET /api/realtime: 200, SSE headers, PB_CONNECT as the very first bytes", async () => {
    const s = await openRawStream();
    assert.equal(s.status, 200);
    assert.match(s.headers.get("content-type") || "", /^text\/event-stream\s*(;|$)/);
    assert.equal(s.headers.get("cache-control"), "no-store");
    assert.equal(s.headers.get("x-accel-buffering"), "no");
    assert.match(s.clientId, /^[A-Za-z0-9]{40}$/);
    const expected = `id:${s.clientId}\nevent:PB_CONNECT\ndata:{"clientId":"${s.clientId}"}\n\n`;
    assert.equal(s.firstEvent, expected);
    assert.ok(s.text.startsWith(expected), `first bytes ${JSON.stringify(s.text.slice(0, 200))}`);
});

test("every stream gets a different client id", async () => {
    const a = await openRawStream({ keepOpen: true });
    const b = await openRawStream({ keepOpen: true });
    assert.notEqual(a.clientId, b.clientId);
    await waitForClients((st) => st.clients === 2, undefined, "2 clients");
});

// --- POST validation (checks 1, 2a-2c, 3) ----------------------------------------

test("unparsable body → 400", async () => {
    const res = await rawPost('{"clientId":');
    assertError(res, 400, BODY.unparsable, "unparsable JSON");
});

test("missing or empty clientId → 400 validation_required", async () => {
    assertError(await rawPost({ subscriptions: ["chat"] }), 400, BODY.noClientId, "missing clientId");
    assertError(await rawPost({ clientId: "", subscriptions: ["chat"] }), 400, BODY.noClientId, "empty clientId");
    assertError(await rawPost({}), 400, BODY.noClientId, "empty object");
});

test("1001 subscriptions → 400; exactly 1000 → 204", async () => {
    const s = await openRawStream({ keepOpen: true });
    assertError(
        await rawPost({ clientId: s.clientId, subscriptions: subs(1001) }),
        400,
        BODY.tooMany,
        "1001 subscriptions",
    );
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: subs(1000) }), "1000 subscriptions");
    const st = await getClients();
    assert.equal(st.subscriptions[s.clientId]?.length, 1000);
});

test("a 2501-character key at index 1 → 400; 2500 characters → 204", async () => {
    const s = await openRawStream({ keepOpen: true });
    assertError(
        await rawPost({ clientId: s.clientId, subscriptions: ["chat", "x".repeat(2501)] }),
        400,
        BODY.keyTooLongAt1,
        "2501-char key",
    );
    const ok = "y".repeat(2500);
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat", ok] }), "2500-char key");
    const st = await getClients();
    assert.deepEqual(st.subscriptions[s.clientId], ["chat", ok]);
});

test("validation comes before the client lookup (400, not 404, for an unknown id)", async () => {
    const id = randomId();
    assertError(await rawPost({ clientId: id, subscriptions: subs(1001) }), 400, BODY.tooMany, "1001 / unknown id");
    assertError(
        await rawPost({ clientId: id, subscriptions: ["chat", "x".repeat(2501)] }),
        400,
        BODY.keyTooLongAt1,
        "long key / unknown id",
    );
});

test("unknown clientId → 404", async () => {
    assertError(await rawPost({ clientId: randomId(), subscriptions: ["chat"] }), 404, BODY.unknownClient, "unknown id");
});

test("a closed stream's client id is no longer valid → 404", async () => {
    const s = await openRawStream(); // closed right after PB_CONNECT
    await waitForClients((st) => st.clients === 0, undefined, "the server to forget the closed stream");
    assertError(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }), 404, BODY.unknownClient, "closed id");
});

// --- subscription set semantics --------------------------------------------------

test("each POST replaces the whole set; empty strings are ignored; none means unsubscribe all", async () => {
    const s = await openRawStream({ keepOpen: true });
    const keysOf = async () => (await getClients()).subscriptions?.[s.clientId] ?? [];

    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat", "news"] }), "chat,news");
    assert.deepEqual([...(await keysOf())].sort(), ["chat", "news"]);

    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["news", ""] }), "news + empty");
    assert.deepEqual(await keysOf(), ["news"]);

    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: [] }), "empty list");
    assert.deepEqual(await keysOf(), []);

    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }), "chat again");
    assertNoContent(await rawPost({ clientId: s.clientId }), "subscriptions missing");
    assert.deepEqual(await keysOf(), []);
    assert.equal((await getClients()).clients, 1, "the stream stays registered");
});

test("a form body is accepted like JSON", async () => {
    const s = await openRawStream({ keepOpen: true });
    const body = new URLSearchParams({ clientId: s.clientId, subscriptions: "chat" }).toString();
    assertNoContent(
        await rawPost(body, { "Content-Type": "application/x-www-form-urlencoded" }),
        "form body",
    );
    assert.deepEqual((await getClients()).subscriptions?.[s.clientId], ["chat"]);
});

// --- auth binding (checks 4, 5) ---------------------------------------------------

test("tokenA then no auth → 403", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const s = await openRawStream({ keepOpen: true });
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, { Authorization: tokenA }), "tokenA");
    assertError(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }), 403, BODY.authMismatch, "then guest");
});

test("tokenA then tokenB → 403", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const tokenB = await mintToken({ id: "userB" });
    const s = await openRawStream({ keepOpen: true });
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, { Authorization: tokenA }), "tokenA");
    assertError(
        await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, { Authorization: tokenB }),
        403,
        BODY.authMismatch,
        "then tokenB",
    );
});

test("tokenA then tokenA again (same user) → 204", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const tokenA2 = await mintToken({ id: "userA", email: "a2@example.com" });
    const s = await openRawStream({ keepOpen: true });
    const post = (auth) => rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, { Authorization: auth });
    assertNoContent(await post(tokenA), "tokenA");
    assertNoContent(await post(tokenA), "tokenA again");
    assertNoContent(await post(tokenA2), "another token of userA");
});

test("guest then tokenA → 204 (upgrade); then guest again → 403", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const s = await openRawStream({ keepOpen: true });
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }), "guest");
    assertNoContent(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, { Authorization: tokenA }), "upgrade to tokenA");
    assertError(await rawPost({ clientId: s.clientId, subscriptions: ["chat"] }), 403, BODY.authMismatch, "back to guest");
});

test("'Bearer <token>' is the same auth as the raw token", async () => {
    const tokenA = await mintToken({ id: "userA" });
    const tokenB = await mintToken({ id: "userB" });
    const s = await openRawStream({ keepOpen: true });
    const post = (headers) => rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, headers);
    assertNoContent(await post({ Authorization: `Bearer ${tokenA}` }), "Bearer tokenA");
    assertNoContent(await post({ Authorization: tokenA }), "raw tokenA after Bearer tokenA");
    assertNoContent(await post({ Authorization: `Bearer ${tokenA}` }), "Bearer tokenA again");
    assertError(await post({}), 403, BODY.authMismatch, "guest after Bearer tokenA");
    assertError(await post({ Authorization: `Bearer ${tokenB}` }), 403, BODY.authMismatch, "Bearer tokenB after tokenA");
});

test("an invalid token is a guest, not an error", async () => {
    const s = await openRawStream({ keepOpen: true });
    const post = (headers) => rawPost({ clientId: s.clientId, subscriptions: ["chat"] }, headers);
    assertNoContent(await post({ Authorization: "not-a-jwt" }), "garbage token on a fresh client");
    assertNoContent(await post({}), "then no auth (both guest)");
    assertNoContent(await post({ Authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.invalid" }), "bad-signature token");

    // and a tampered real token is a guest too: the client is still upgradable
    const tokenA = await mintToken({ id: "userA" });
    const [h, p] = tokenA.split(".");
    assertNoContent(await post({ Authorization: `${h}.${p}.AAAA` }), "tampered signature");
    assertNoContent(await post({ Authorization: tokenA }), "upgrade to the real tokenA");
});
