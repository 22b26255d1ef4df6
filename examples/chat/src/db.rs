//! The chat's messages, in SQLite.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, params};

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// The message store: one SQLite connection, used from blocking tasks.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// How many messages the page shows.
pub const HISTORY: i64 = 100;

impl Db {
    /// Opens (or creates) `chat.db` in `dir`, creating the directory too.
    ///
    /// # Errors
    ///
    /// If the directory or the database cannot be created or opened.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create the data directory {}: {err}", dir.display()))?;
        let path = dir.join("chat.db");
        let conn = Connection::open(&path)
            .map_err(|err| format!("cannot open {}: {err}", path.display()))?;
        Self::init(conn).map_err(|err| format!("cannot prepare {}: {err}", path.display()))
    }

    /// A database in memory, for tests.
    ///
    /// # Panics
    ///
    /// If SQLite cannot open an in-memory database.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::init(Connection::open_in_memory().expect("an in-memory database")).expect("schema")
    }

    fn init(conn: Connection) -> rusqlite::Result<Self> {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY,
                 user TEXT NOT NULL,
                 text TEXT NOT NULL,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            work(&conn.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| err.to_string())
    }

    /// Stores a message.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn insert(&self, message: Message) -> Result<(), String> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO messages (user, text) VALUES (?1, ?2)",
                params![message.user, message.text],
            )
            .map(drop)
        })
        .await
    }

    /// How many messages are stored.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn count(&self) -> Result<i64, String> {
        self.with(|conn| conn.query_row("SELECT count(*) FROM messages", [], |row| row.get(0)))
            .await
    }

    /// The latest [`HISTORY`] messages, oldest first.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn history(&self) -> Result<Vec<Message>, String> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT user, text FROM (SELECT id, user, text FROM messages ORDER BY id DESC LIMIT ?1)
                 ORDER BY id",
            )?;
            statement
                .query_map([HISTORY], |row| {
                    Ok(Message {
                        user: row.get(0)?,
                        text: row.get(1)?,
                    })
                })?
                .collect()
        })
        .await
    }
}
