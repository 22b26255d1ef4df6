//! Procedural macros of the `axum-realtime` crate: typed channels and render-capture pages.
//! Use them through `axum_realtime` (`axum_realtime::channel`, `axum_realtime::realtime_page`);
//! this crate is an implementation detail.

mod args;
mod channel;
mod crate_path;
mod errors;
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
/// - `send_to(&self, &Realtime, filter)`: with any `Fn(&ClientId, &Client) -> bool`.
///
/// On an askama template (a type with `#[template(...)]`) it makes an **HTML channel**: the
/// rendered HTML is the payload, a JSON string on the wire, and the type implements
/// `HtmlChannel`, whose `capture` and `capture_to` render once, broadcast, and return the HTML
/// as a response. It derives `Template` (through `axum_realtime`) if the type does not already.
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
/// or everyone when a guest posts), or the filter given as `filter = ...` (a function path or
/// a closure taking `(&ClientId, &Client)` and returning `bool`, checked at compile time).
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
