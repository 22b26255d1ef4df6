// `#[filter]` functions with each kind of argument, combined with the built-in filters and
// passed to every send that takes a portable filter.
#![deny(missing_docs)]
//! A crate whose public filters are documented.

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::post;
use axum_realtime::{Client, Filter, Realtime, channel, filter, realtime_page};
use serde::{Deserialize, Serialize};

/// A room, by its number and floor.
#[derive(Clone, Serialize, Deserialize)]
pub struct Room {
    number: u32,
    floor: i8,
}

/// Clients in `room` (a `&str` travels as a `String`).
#[filter]
pub fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

/// Clients at or above `level` (a number, by value).
#[filter]
pub fn at_least(client: &Client, level: u64) -> bool {
    client.get::<u64>("level").is_some_and(|have| have >= level)
}

/// Clients whose tag is one of `tags` (a slice travels as a `Vec`).
#[filter]
pub fn tagged(client: &Client, tags: &[String]) -> bool {
    client.get::<String>("tag").is_some_and(|tag| tags.contains(&tag))
}

/// Clients in the room (a struct, by reference).
#[filter]
pub(crate) fn inside(client: &Client, room: &Room) -> bool {
    client.get::<u32>("room") == Some(room.number) && room.floor >= 0
}

/// An owned struct is cloned for each client; a destructuring pattern is fine.
#[filter]
fn between(_: &Client, (low, high): (u8, u8), room: Room, names: BTreeMap<String, u8>) -> bool {
    low < high && room.number > 0 && !names.is_empty()
}

/// No argument at all.
#[filter]
fn has_name(client: &Client) -> bool {
    client.has("name")
}

#[channel("chat")]
struct ChatMsg {
    text: String,
}

#[channel("chat-html")]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct ChatHtml {
    text: String,
}

#[realtime_page(filter = in_room("lobby").and(!Filter::guests()))]
async fn post_chat(body: String) -> ChatHtml {
    ChatHtml { text: body }
}

fn main() {
    let rt = Realtime::new();
    let filter: Filter = Filter::any([
        in_room("7"),
        at_least(3),
        tagged(&["a".to_owned()]),
        inside(&Room { number: 1, floor: 0 }),
        between((1, 2), Room { number: 1, floor: 0 }, BTreeMap::new()),
        has_name(),
    ]);
    let _ = ChatMsg { text: "hi".into() }.send_to(&rt, &filter).unwrap();
    let _ = ChatHtml { text: "hi".into() }.capture_to(&rt, filter.clone()).unwrap();
    let _ = rt.send_to("chat", "hi", in_room("7").or(Filter::superusers())).unwrap();
    let _ = axum_realtime::capture::capture(&ChatHtml { text: "hi".into() }, &rt, has_name());
    let _app: Router = rt.mount(Router::new().route("/chat", post(post_chat)));

    // `use axum_realtime::filter` brings the attribute and the module alike.
    let _: filter::Filter = filter::everyone;
}
