//! What every example shares: the browser libraries they serve, how they pick their listening
//! address, log and stop, and the chats' message store.

pub mod assets;
pub mod cli;
pub mod logs;
pub mod messages;
pub mod shutdown;
