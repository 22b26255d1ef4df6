//! The chats' message store: one SQLite connection behind a mutex, used from blocking tasks.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, params};

/// How many messages [`MessageStore::history`] returns: the latest ones.
pub const HISTORY: usize = 100;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// The messages of a chat. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct MessageStore {
    conn: Arc<Mutex<Connection>>,
}

impl fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageStore").finish_non_exhaustive()
    }
}

/// Why a query failed.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite refused.
    Sqlite(rusqlite::Error),
    /// The blocking task running the query panicked or was cancelled.
    Task(tokio::task::JoinError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(err) => write!(f, "SQLite: {err}"),
            Self::Task(err) => write!(f, "database task: {err}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(err) => Some(err),
            Self::Task(err) => Some(err),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sqlite(err)
    }
}

impl MessageStore {
    /// Opens (or creates) the database `file` in `dir`, creating the directory too.
    ///
    /// # Errors
    ///
    /// A message for the user if the directory or the database cannot be created or opened.
    pub fn open(dir: &Path, file: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create the data directory {}: {err}", dir.display()))?;
        let path = dir.join(file);
        let conn = Connection::open(&path)
            .map_err(|err| format!("cannot open {}: {err}", path.display()))?;
        Self::init(conn).map_err(|err| format!("cannot prepare {}: {err}", path.display()))
    }

    /// A database in memory (for tests): empty, and gone when the last clone is dropped.
    ///
    /// # Errors
    ///
    /// If SQLite cannot open an in-memory database.
    pub fn in_memory() -> rusqlite::Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> rusqlite::Result<Self> {
        // WAL: a commit is durable without rewriting the whole page set, and a process killed
        // mid-write loses at most the transaction in flight.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
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

    /// Runs `work` on a blocking thread with the connection locked.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (every
            // statement is its own transaction), so a poisoned lock is still usable.
            work(&conn.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .map_err(StoreError::Task)?
    }

    /// Stores `message`, then, with the database still locked, runs `then` on it (the
    /// broadcast): every subscriber receives messages in the order the history lists them,
    /// and a message is in the history before anyone receives it.
    ///
    /// # Errors
    ///
    /// If SQLite fails; `then` does not run then.
    pub async fn insert_then<R: Send + 'static>(
        &self,
        message: Message,
        then: impl FnOnce(&Message) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO messages (user, text) VALUES (?1, ?2)",
                params![message.user, message.text],
            )?;
            Ok(then(&message))
        })
        .await
    }

    /// Stores `message`.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn insert(&self, message: Message) -> Result<(), StoreError> {
        self.insert_then(message, |_| ()).await
    }

    /// The latest [`HISTORY`] messages, oldest first.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn history(&self) -> Result<Vec<Message>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT user, text FROM
                     (SELECT id, user, text FROM messages ORDER BY id DESC LIMIT ?1)
                 ORDER BY id",
            )?;
            let limit = i64::try_from(HISTORY).unwrap_or(i64::MAX);
            let rows = statement.query_map([limit], |row| {
                Ok(Message {
                    user: row.get(0)?,
                    text: row.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// How many messages are stored.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn count(&self) -> Result<i64, StoreError> {
        self.with(|conn| Ok(conn.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?))
            .await
    }
}
