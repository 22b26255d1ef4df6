//! `#[filter]` functions end to end: their arguments of each kind, combined with the built-in
//! filters, sent through a real broker to several streams, each of which receives exactly what
//! its filter accepts; and what travels between nodes (the name and the arguments, as JSON).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum_realtime::{
    AuthRecord, Client, ClientId, Delivery, Filter, JwtAuth, Realtime, SendError, everyone, filter,
};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime};
use realtime_tests::server::TestServer;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

const SECRET: &[u8] = b"filters-test-secret-of-32-bytes!";

/// A `&str` argument: it travels as a `String`.
#[filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

/// A number, by value.
#[filter]
fn at_least(client: &Client, level: u32) -> bool {
    client.get::<u32>("level").is_some_and(|have| have >= level)
}

/// A slice: it travels as a `Vec`.
#[filter]
fn tagged(client: &Client, tags: &[String]) -> bool {
    client
        .get::<String>("tag")
        .is_some_and(|tag| tags.contains(&tag))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Band {
    low: u32,
    high: u32,
}

impl Band {
    fn into_levels(self) -> std::ops::RangeInclusive<u32> {
        self.low..=self.high
    }
}

/// A struct, by reference.
#[filter]
fn level_in(client: &Client, band: &Band) -> bool {
    client
        .get::<u32>("level")
        .is_some_and(|level| (band.low..=band.high).contains(&level))
}

/// A struct by value (cloned for each client) after another argument.
#[filter]
fn tag_and_band(client: &Client, tag: &str, band: Band) -> bool {
    let levels = band.into_levels();
    tagged_with(client, tag)
        && client
            .get::<u32>("level")
            .is_some_and(|l| levels.contains(&l))
}

/// A destructuring pattern.
#[filter]
fn level_between(client: &Client, (low, high): (u32, u32)) -> bool {
    client
        .get::<u32>("level")
        .is_some_and(|level| low <= level && level <= high)
}

fn tagged_with(client: &Client, tag: &str) -> bool {
    client.get::<String>("tag").as_deref() == Some(tag)
}

/// No argument.
#[filter]
fn has_tag(client: &Client) -> bool {
    client.has("tag")
}

/// One client of the test: its stream, and the name of its profile.
struct Reader {
    name: &'static str,
    stream: SseStream,
}

/// What each client is: a user (or a guest), and the values its store holds.
struct Profile {
    name: &'static str,
    user: Option<AuthRecord>,
    room: &'static str,
    level: u32,
    tag: Option<&'static str>,
}

fn profiles() -> Vec<Profile> {
    vec![
        Profile {
            name: "ann",
            user: Some(AuthRecord::new("ann").with("role", "moderator")),
            room: "7",
            level: 5,
            tag: Some("red"),
        },
        Profile {
            name: "bob",
            user: Some(AuthRecord::new("bob")),
            room: "7",
            level: 1,
            tag: Some("blue"),
        },
        Profile {
            name: "cy",
            user: None,
            room: "8",
            level: 3,
            tag: None,
        },
        Profile {
            name: "root",
            user: Some(AuthRecord::superuser("root")),
            room: "9",
            level: 9,
            tag: Some("red"),
        },
    ]
}

/// A server and one subscribed stream per profile, its store filled in.
async fn readers() -> (Realtime, TestServer, Vec<Reader>) {
    let jwt = JwtAuth::new(SECRET);
    let rt = Realtime::builder()
        .authenticator(JwtAuth::new(SECRET))
        .build();
    let server = TestServer::start(&rt, rt.mount(Router::new())).await;
    let mut readers = Vec::new();
    for profile in profiles() {
        let mut stream = SseStream::open(server.addr, &[]).await;
        let id = stream.client_id().await;
        let token = profile.user.as_ref().map(|user| jwt.mint(user).unwrap());
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
        let response = post_realtime(server.addr, &body, token.as_deref()).await;
        assert_eq!(response.status, 204, "{}", response.text());
        let client = rt.client(&id).expect("the client is registered");
        client.set("roomId", profile.room.to_owned());
        client.set("level", profile.level);
        if let Some(tag) = profile.tag {
            client.set("tag", tag.to_owned());
        }
        readers.push(Reader {
            name: profile.name,
            stream,
        });
    }
    (rt, server, readers)
}

/// The `data` of an SSE event block.
fn data_of(event: &str) -> Value {
    let line = event
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .expect("a data line");
    serde_json::from_str(line).expect("JSON data")
}

/// Sends `filter`'s message, then a marker to everyone: a reader the filter accepts reads the
/// message then the marker, any other the marker first. Returns who read the message.
async fn reached(
    rt: &Realtime,
    readers: &mut [Reader],
    filter: Filter,
    label: &str,
) -> Vec<&'static str> {
    reached_by(rt, readers, label, |message| {
        rt.send_to("chat", message, filter)
    })
    .await
}

/// As [`reached`], for a send of `message` made by `send`.
async fn reached_by(
    rt: &Realtime,
    readers: &mut [Reader],
    label: &str,
    send: impl FnOnce(&Value) -> Result<Delivery, SendError>,
) -> Vec<&'static str> {
    let delivery = send(&json!({ "to": label })).unwrap();
    let to_all = rt.send_to("chat", &json!("marker"), everyone).unwrap();
    assert_eq!(to_all.reached, readers.len());
    let mut reached = Vec::new();
    for reader in readers.iter_mut() {
        let first = reader
            .stream
            .next_event(READ_TIMEOUT)
            .await
            .expect("an event");
        if data_of(&first) == json!({ "to": label }) {
            reached.push(reader.name);
            let then = reader
                .stream
                .next_event(READ_TIMEOUT)
                .await
                .expect("the marker");
            assert_eq!(data_of(&then), json!("marker"), "{label}");
        } else {
            assert_eq!(data_of(&first), json!("marker"), "{label}");
        }
    }
    assert_eq!(
        delivery.reached,
        reached.len(),
        "{label}: the count matches the streams"
    );
    reached
}

#[tokio::test]
async fn filter_functions_reach_exactly_the_clients_they_accept() {
    let (rt, _server, mut readers) = readers().await;
    let red_or_green = ["red".to_owned(), "green".to_owned()];
    let cases: Vec<(&str, Filter, Vec<&str>)> = vec![
        ("a &str", in_room("7"), vec!["ann", "bob"]),
        ("a number", at_least(3), vec!["ann", "cy", "root"]),
        ("a slice", tagged(&red_or_green), vec!["ann", "root"]),
        (
            "a struct",
            level_in(&Band { low: 1, high: 3 }),
            vec!["bob", "cy"],
        ),
        ("a pattern", level_between((3, 5)), vec!["ann", "cy"]),
        (
            "a struct by value",
            tag_and_band("red", Band { low: 4, high: 6 }),
            vec!["ann"],
        ),
        ("no argument", has_tag(), vec!["ann", "bob", "root"]),
        ("nobody matches", in_room("none"), vec![]),
        (
            "and a built-in user",
            in_room("7").and(Filter::user("bob")),
            vec!["bob"],
        ),
        (
            "or superusers",
            in_room("8").or(Filter::superusers()),
            vec!["cy", "root"],
        ),
        ("negated", !in_room("7"), vec!["cy", "root"]),
        (
            "all, with an auth field",
            Filter::all([
                tagged(&red_or_green),
                Filter::auth_field("role", "moderator"),
            ]),
            vec!["ann"],
        ),
        (
            "any, with guests",
            Filter::any([Filter::guests(), at_least(9)]),
            vec!["cy", "root"],
        ),
        (
            "a built-in store rule beside a function",
            Filter::stored("roomId", "7").and(!has_tag().and(at_least(5))),
            vec!["bob"],
        ),
    ];
    for (label, filter, expected) in cases {
        assert_eq!(
            reached(&rt, &mut readers, filter, label).await,
            expected,
            "{label}"
        );
    }
}

#[tokio::test]
async fn a_local_send_takes_a_closure() {
    let (rt, _server, mut readers) = readers().await;
    let room = String::from("7");
    let in_room_below_3 = move |_: &ClientId, client: &Client| {
        client.get::<String>("roomId") == Some(room.clone()) && !at_least(3).accepts(client)
    };
    let reached = reached_by(&rt, &mut readers, "local", |message| {
        rt.send_local("chat", message, in_room_below_3)
    })
    .await;
    assert_eq!(reached, ["bob"]);
}

#[test]
fn a_filter_travels_as_its_name_and_its_arguments() {
    let filter = tag_and_band("red", Band { low: 4, high: 6 });
    let text = serde_json::to_string(&filter).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"named": {"name": "filters::tag_and_band", "args": ["red", {"low": 4, "high": 6}]}})
    );
    assert_eq!(
        serde_json::to_value(has_tag()).unwrap(),
        json!({"named": {"name": "filters::has_tag", "args": []}})
    );

    // Another node decodes it and runs the same function.
    let back: Filter = serde_json::from_str(&text).unwrap();
    assert_eq!(back, filter);
    let client = Client::detached();
    client.set("tag", String::from("red"));
    client.set("level", 5_u32);
    assert!(back.accepts(&client));
    client.set("level", 7_u32);
    assert!(!back.accepts(&client));
}

#[test]
fn arguments_that_do_not_fit_the_function_reach_nobody() {
    let client = Client::detached();
    client.set("roomId", String::from("7"));
    assert!(Filter::named("filters::in_room", json!(["7"])).accepts(&client));
    for args in [
        json!([7]),
        json!(["7", "8"]),
        json!([]),
        json!("7"),
        json!(null),
    ] {
        let filter = Filter::named("filters::in_room", args.clone());
        assert!(!filter.accepts(&client), "{args}");
        assert!(
            !(!filter).accepts(&client),
            "{args}: negated, it still reaches nobody"
        );
    }
}

/// Accepts everyone; its argument is a map JSON cannot hold (its keys are not strings).
#[filter]
fn with_map(_client: &Client, _map: &HashMap<(u8, u8), bool>) -> bool {
    true
}

#[test]
fn arguments_json_cannot_hold_make_a_filter_that_reaches_nobody() {
    let client = Client::detached();
    assert!(with_map(&HashMap::new()).accepts(&client));
    let map = HashMap::from([((1, 2), true)]);
    let filter = with_map(&map);
    assert_eq!(filter, !everyone);
    assert!(!filter.accepts(&client));
}

/// Counts how often it is decoded.
#[derive(Serialize)]
struct Counted(u32);

static DECODED: AtomicUsize = AtomicUsize::new(0);
static CHECKED: AtomicUsize = AtomicUsize::new(0);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DECODED.fetch_add(1, Ordering::SeqCst);
        u32::deserialize(deserializer).map(Counted)
    }
}

#[filter]
fn counted(client: &Client, level: &Counted) -> bool {
    CHECKED.fetch_add(1, Ordering::SeqCst);
    client
        .get::<u32>("level")
        .is_some_and(|have| have >= level.0)
}

#[tokio::test]
async fn arguments_are_decoded_once_per_send_and_checked_once_per_subscriber() {
    let (rt, _server, readers) = readers().await;
    let delivery = rt.send_to("chat", "hi", counted(&Counted(3))).unwrap();
    assert_eq!(delivery.reached, 3);
    assert_eq!(
        DECODED.load(Ordering::SeqCst),
        1,
        "decoded once for the send"
    );
    assert_eq!(
        CHECKED.load(Ordering::SeqCst),
        readers.len(),
        "checked once per subscriber"
    );
}
