//! The chat's templates: the page, and the two HTML channels its parts are broadcast on.

use axum_realtime::{Template, channel};

use crate::Stored;

/// The whole page. Its `messages` block is also [`MessageHtml`], so the history and the live
/// messages are rendered by the same markup.
#[derive(Template)]
#[template(path = "chat.html", askama = axum_realtime::askama)]
pub struct ChatPage {
    /// The latest messages, oldest first.
    pub messages: Vec<Stored>,
    /// The logged-in user's name; `None` shows the login form.
    pub user: Option<String>,
}

/// Every stored message, as the page shows them: what a page reloads after a resync.
#[derive(Template)]
#[template(path = "chat.html", block = "messages", askama = axum_realtime::askama)]
pub struct MessagesHtml {
    /// The latest messages, oldest first.
    pub messages: Vec<Stored>,
}

/// One new message, broadcast on `chat` and appended by every open page.
#[channel("chat")]
#[template(path = "chat.html", block = "messages")]
pub struct MessageHtml {
    /// The message (one, in the block's loop).
    pub messages: [Stored; 1],
}

/// A notice for one user's own tabs, sent with the seed's default filter.
#[channel("notices")]
#[template(path = "notice.html")]
pub struct NoticeHtml {
    /// What happened.
    pub text: String,
}
