//! What every example shares: the browser libraries they serve, and how they pick their
//! listening address.

pub mod assets;
pub mod cli;
