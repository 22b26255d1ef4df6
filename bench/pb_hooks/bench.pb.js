// The benchmark's send route, for PocketBase: `POST /bench/send` with `{"topic": ..., "data": ...}`
// JSON-encodes `data` (a string) and sends it to every client subscribed to `topic`, the way the
// seed's PocketPages realtime plugin fanned out: walk `$app.subscriptionsBroker().clients()`,
// keep those that `hasSubscription(topic)`, `client.send(new SubscriptionMessage(...))` to each.
// With `"keys": true` (the keys scenario) it sends under every key a client holds for the topic,
// the plain one and each `topic?options=...`, as PocketBase's own record events go out: the keys
// of `client.subscriptions(topic + "?")`.
// Answers `{"reached": N}`. The wire bytes match `bench-server` (`data:"<the string>"`).
routerAdd("POST", "/bench/send", (e) => {
    const body = e.requestInfo().body || {};
    const topic = String(body.topic || "");
    if (topic === "" || typeof body.data !== "string") {
        return e.json(400, { message: "expected {\"topic\": string, \"data\": string}" });
    }
    const data = JSON.stringify(body.data);
    const message = new SubscriptionMessage({ name: topic, data: data });
    const clients = $app.subscriptionsBroker().clients();
    let reached = 0;
    for (const id in clients) {
        const client = clients[id];
        if (body.keys === true) {
            let any = false;
            for (const key in client.subscriptions(topic + "?")) {
                client.send(new SubscriptionMessage({ name: key, data: data }));
                any = true;
            }
            if (any) {
                reached++;
            }
        } else if (client.hasSubscription(topic)) {
            client.send(message);
            reached++;
        }
    }
    return e.json(200, { reached: reached });
});
