//! Procedural macros of the `axum-realtime` crate: typed channels, render-capture pages and
//! filters that travel. Use them through `axum_realtime` (`axum_realtime::channel`,
//! `axum_realtime::realtime_page`, `axum_realtime::filter`); this crate is an implementation
//! detail.

mod args;
mod channel;
mod crate_path;
mod errors;
mod filter;
mod realtime_page;
#[cfg(test)]
mod snapshots;

use proc_macro::TokenStream;

/// Declares a typed channel: the struct (or enum) it is put on is the channel's payload.
///
/// `#[channel("chat")]` on a plain type makes it a **JSON channel**: it derives `Serialize`
/// (through `axum_realtime`, so your manifest needs no serde) and implements `Channel` and
/// `JsonChannel`, whose methods the type also gets as inherent methods (no import needed):
///
/// - `send(&self, &Realtime, &RequestAuth)`: with the default filter (the sender's own user,
///   or everyone when a guest sends);
/// - `send_to(&self, &Realtime, filter)`: with a `Filter` (built-in, `#[filter]`, or a
///   combination), on every node;
/// - `send_local(&self, &Realtime, filter)`: with any `Fn(&ClientId, &Client) -> bool`, on this
///   node only.
///
/// On an askama template (a type with `#[template(...)]`) it makes an **HTML channel**: the
/// rendered HTML is the payload, a JSON string on the wire, and the type implements
/// `HtmlChannel`, whose `capture`, `capture_to` and `capture_local` render once, broadcast, and
/// return the HTML as a response. It derives `Template` (through `axum_realtime`) if the type does not already.
///
/// See `JsonChannel` and `HtmlChannel` in `axum_realtime` for the methods' signatures and
/// errors.
///
/// ```
/// use axum_realtime::{Realtime, RequestAuth, channel};
///
/// #[channel("chat")]
/// struct ChatMsg {
///     user: String,
///     text: String,
/// }
///
/// let rt = Realtime::new();
/// let msg = ChatMsg { user: "ann".into(), text: "hi".into() };
/// let delivery = msg.send(&rt, &RequestAuth::guest()).unwrap();
/// assert_eq!(delivery.reached, 0); // nobody is subscribed yet
/// assert_eq!(<ChatMsg as axum_realtime::Channel>::NAME, "chat");
/// ```
///
/// The name is checked at compile time: it must be non-empty, at most 2500 bytes, and hold no
/// whitespace, control characters or `?`.
///
/// ```compile_fail
/// #[axum_realtime::channel("chat room")]
/// struct ChatMsg { text: String }
/// ```
///
/// Arguments: the name, then optionally `crate = path` where `axum_realtime` is renamed.
#[proc_macro_attribute]
pub fn channel(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(args.into(), item.into()).into()
}

/// Wires render capture into an axum handler: the template the handler returns is rendered
/// once, broadcast on its channel, and answered to the requester as HTML.
///
/// The handler must be `async` and return the template of an HTML channel (or a
/// `Result<Template, E: IntoResponse>`; an `Err` is answered as it is, with nothing broadcast).
/// The broadcast uses the default filter with the requester's auth (the requester's own user,
/// or everyone when a guest posts), or the filter given as `filter = ...`: an expression of type
/// `axum_realtime::Filter` (`axum_realtime::everyone`, `in_room("7")` for a
/// [`#[filter]`](macro@filter) function, `Filter::superusers().or(...)`). A closure is refused at
/// compile time: a page's broadcast may reach other nodes, and a closure cannot travel.
///
/// ```
/// use axum::{Form, Router, routing::post};
/// use axum_realtime::{Realtime, Template, channel, realtime_page};
///
/// #[channel("chat-html")]
/// #[derive(Template)]
/// #[template(source = "<div class=\"message\">{{ text }}</div>", ext = "html")]
/// struct MessageHtml {
///     text: String,
/// }
///
/// #[derive(serde::Deserialize)]
/// struct ChatForm {
///     text: String,
/// }
///
/// #[realtime_page(filter = axum_realtime::everyone)]
/// async fn post_chat(Form(form): Form<ChatForm>) -> MessageHtml {
///     MessageHtml { text: form.text }
/// }
///
/// let rt = Realtime::new();
/// let app: Router = rt.mount(Router::new().route("/api/chat", post(post_chat)));
/// # drop(app);
/// ```
///
/// A handler that is not `async` is refused:
///
/// ```compile_fail
/// # use axum_realtime::{Template, channel};
/// # #[channel("chat")]
/// # #[derive(Template)]
/// # #[template(source = "{{ text }}", ext = "html")]
/// # struct MessageHtml { text: String }
/// #[axum_realtime::realtime_page]
/// fn post_chat() -> MessageHtml {
///     MessageHtml { text: String::new() }
/// }
/// ```
///
/// Arguments: `filter = expr`, `crate = path` (where `axum_realtime` is renamed).
#[proc_macro_attribute]
pub fn realtime_page(args: TokenStream, item: TokenStream) -> TokenStream {
    realtime_page::expand(args.into(), item.into()).into()
}

/// Declares a filter of your own: a function every node of the program has, so that a send
/// made on one node can be filtered on every other, against each client's own store and auth
/// record. Only its arguments travel.
///
/// The function takes the client first (`&Client`), then the filter's arguments, and returns
/// whether the client receives the message. The attribute turns it into a constructor of the
/// same name, visibility, docs and attributes, taking the arguments alone and returning an
/// `axum_realtime::Filter` that `send_to`, `capture_to` and `#[realtime_page(filter = ...)]`
/// take, and that combines with the built-in filters (`and`, `or`, `!`):
///
/// ```
/// use axum_realtime::{Client, Filter, Realtime, filter};
///
/// /// Clients in `room`.
/// #[filter]
/// pub fn in_room(client: &Client, room: &str) -> bool {
///     client.get::<String>("roomId").as_deref() == Some(room)
/// }
///
/// let rt = Realtime::new();
/// let filter: Filter = in_room("7").and(!Filter::guests());
/// let delivery = rt.send_to("chat", "hello, room 7", filter).unwrap();
/// assert_eq!(delivery.reached, 0); // nobody is subscribed yet
///
/// let client = Client::detached();
/// client.set("roomId", String::from("7"));
/// assert!(in_room("7").accepts(&client));
/// ```
///
/// How the arguments travel: `&str` as a `String`, `&[T]` as a `Vec<T>`, `&T` and `T` as `T`,
/// in a JSON array, so each argument's type must implement `Serialize` and `Deserialize`
/// (and be `Send + Sync`). A send decodes them once on each node, then runs the function for
/// each subscriber with the decoded values borrowed; an argument taken by value (`T`) is cloned
/// for each subscriber instead, so it must also be `Clone` (take `&T` to avoid the clone).
/// Arguments JSON cannot hold (a map whose keys are not strings) are logged, and the filter
/// then reaches nobody.
///
/// Every node looks the function up by its path (`module_path!()` and its name): a filter sent
/// by a node running a version of the program without that function, or whose arguments do not
/// fit its parameters, reaches nobody on the receiving node (and is logged there). Put it on a
/// free function, at most one of that name per module.
///
/// The signature is checked at compile time, with errors underlined at your code: the
/// function must not be `async`, `const`, `unsafe`, `extern`, generic or a method; it takes
/// `&Client` first and returns `bool`; an argument cannot be `&mut`, carry a lifetime of its
/// own, or be `impl Trait`.
///
/// ```compile_fail
/// use axum_realtime::Client;
///
/// #[axum_realtime::filter]
/// async fn in_room(client: &Client, room: &str) -> bool {
///     client.get::<String>("roomId").as_deref() == Some(room)
/// }
/// ```
///
/// ```compile_fail
/// # use axum_realtime::Client;
/// struct Room(String); // neither `Serialize` nor `Deserialize`: it cannot travel
///
/// #[axum_realtime::filter]
/// fn in_room(client: &Client, room: &Room) -> bool {
///     client.get::<String>("roomId").as_ref() == Some(&room.0)
/// }
/// ```
///
/// Arguments: `crate = path` where `axum_realtime` is renamed.
#[proc_macro_attribute]
pub fn filter(args: TokenStream, item: TokenStream) -> TokenStream {
    filter::expand(args.into(), item.into()).into()
}
