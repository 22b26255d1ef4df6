//! The chats' message store: one SQLite connection behind a mutex, used from blocking tasks.
//! Several processes may open the same file at once.

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, params};

/// How many messages [`MessageStore::history`] returns: the latest ones.
pub const HISTORY: usize = 100;

/// How long a statement waits for a lock another process holds before failing: far longer
/// than any of this store's transactions, which each write one row.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// A message as stored, with its row id: unique among every process sharing the file, and
/// larger for a message stored later. A page that reloads its list while live messages keep
/// arriving tells by it which ones it already shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The row id.
    pub id: i64,
    /// The message.
    pub message: Message,
}

impl Deref for Stored {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
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

/// Puts the database in WAL mode: a commit is durable without rewriting the whole page set, a
/// process killed mid-write loses at most the transaction in flight, and readers in other
/// processes do not block the writer. On a file already in WAL this is a no-op.
///
/// Two processes switching a new file at the same moment can each hold the read lock the
/// other must wait out; SQLite then answers "busy" at once instead of calling the busy
/// handler (waiting could deadlock). That is retried here, for at most [`BUSY_TIMEOUT`].
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
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
        // Several processes may share the file (instances of an example on one data
        // directory, started together): a lock another one holds is waited for, not an error.
        // (rusqlite's default is the same today; the store does not rely on it.)
        conn.busy_timeout(BUSY_TIMEOUT)?;
        switch_to_wal(&conn)?;
        // The schema is made in one write transaction whose lock is taken (waited for) before
        // the schema is read: a concurrent creator has either finished, and every statement
        // is a no-op, or waits for this one.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY,
                 user TEXT NOT NULL,
                 text TEXT NOT NULL,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );
             COMMIT;",
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
        then: impl FnOnce(&Stored) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO messages (user, text) VALUES (?1, ?2)",
                params![message.user, message.text],
            )?;
            let id = conn.last_insert_rowid();
            Ok(then(&Stored { id, message }))
        })
        .await
    }

    /// Stores `message`, and answers it with its row id.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn insert(&self, message: Message) -> Result<Stored, StoreError> {
        self.insert_then(message, Stored::clone).await
    }

    /// The latest [`HISTORY`] messages, oldest first.
    ///
    /// # Errors
    ///
    /// If SQLite fails.
    pub async fn history(&self) -> Result<Vec<Stored>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, user, text FROM
                     (SELECT id, user, text FROM messages ORDER BY id DESC LIMIT ?1)
                 ORDER BY id",
            )?;
            let limit = i64::try_from(HISTORY).unwrap_or(i64::MAX);
            let rows = statement.query_map([limit], |row| {
                Ok(Stored {
                    id: row.get(0)?,
                    message: Message {
                        user: row.get(1)?,
                        text: row.get(2)?,
                    },
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

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// Stores opened at the same moment on a new file, as processes sharing a data directory
    /// do (each store has its own connection, so SQLite locks between them as between
    /// processes): none fails to open or to write while the others write, and they share the
    /// messages.
    #[tokio::test]
    async fn stores_opened_together_on_a_new_file_all_open_and_share_it() {
        const STORES: usize = 4;
        const WRITES: usize = 5;
        for round in 0..50 {
            let dir = std::env::temp_dir().join(format!(
                "example-support-store-{}-{round}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let start = Barrier::new(STORES);
            let stores: Vec<MessageStore> = std::thread::scope(|scope| {
                let openers: Vec<_> = (0..STORES)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            MessageStore::open(&dir, "chat.db")
                        })
                    })
                    .collect();
                openers
                    .into_iter()
                    .map(|opener| opener.join().unwrap())
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|err| panic!("round {round}: {err}"))
            });
            // Every store writes at once: each waits for the others' write locks.
            let writers: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(i, store)| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for n in 0..WRITES {
                            let message = Message {
                                user: format!("user{i}"),
                                text: format!("message {n}"),
                            };
                            store.insert(message).await?;
                        }
                        Ok::<_, StoreError>(())
                    })
                })
                .collect();
            for writer in writers {
                writer
                    .await
                    .unwrap()
                    .unwrap_or_else(|err| panic!("round {round}: {err}"));
            }
            for store in &stores {
                assert_eq!(
                    store.count().await.unwrap(),
                    i64::try_from(STORES * WRITES).unwrap()
                );
            }
            drop(stores);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
