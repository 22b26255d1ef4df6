//! The chat's messages: the examples' shared SQLite store, holding this chat's payloads.

use std::path::Path;

use example_support::messages::{Message, MessageStore, StoreError};

use crate::ChatMessage;

pub use example_support::messages::HISTORY;

/// The file [`Db::open_in`] keeps the messages in, inside the data directory.
pub const FILE_NAME: &str = "sdk-chat.db";

/// The message store. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct Db(MessageStore);

impl From<ChatMessage> for Message {
    fn from(message: ChatMessage) -> Self {
        Self {
            user: message.user,
            text: message.text,
        }
    }
}

impl From<Message> for ChatMessage {
    fn from(message: Message) -> Self {
        Self {
            user: message.user,
            text: message.text,
        }
    }
}

impl Db {
    /// Opens (or creates) [`FILE_NAME`] in `dir`, creating the directory too.
    ///
    /// # Errors
    ///
    /// A message for the user if the directory or the database cannot be created or opened.
    pub fn open_in(dir: &Path) -> Result<Self, String> {
        MessageStore::open(dir, FILE_NAME).map(Self)
    }

    /// A database in memory (for tests).
    ///
    /// # Errors
    ///
    /// If SQLite cannot open an in-memory database.
    pub fn in_memory() -> rusqlite::Result<Self> {
        MessageStore::in_memory().map(Self)
    }

    /// Stores `message`, then runs `then` (the broadcast) with the database still locked, so
    /// that subscribers receive messages in history order.
    ///
    /// # Errors
    ///
    /// If SQLite fails; `then` does not run then.
    pub async fn store_then<R: Send + 'static>(
        &self,
        message: ChatMessage,
        then: impl FnOnce(&ChatMessage) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let payload = message.clone();
        self.0
            .insert_then(message.into(), move |_| then(&payload))
            .await
    }

    /// Stores `message` without sending it anywhere.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn store(&self, message: ChatMessage) -> Result<(), StoreError> {
        self.0.insert(message.into()).await.map(drop)
    }

    /// The latest [`HISTORY`] messages, oldest first.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn history(&self) -> Result<Vec<ChatMessage>, StoreError> {
        Ok(self
            .0
            .history()
            .await?
            .into_iter()
            .map(|stored| ChatMessage::from(stored.message))
            .collect())
    }
}
