//! The key that signs login tokens, kept in the data directory so logins survive restarts.

use std::io::Write;
use std::path::Path;

/// Reads `<dir>/secret`, creating it with 32 random bytes on first use.
///
/// # Errors
///
/// If the file cannot be read or created, or the system has no random source.
pub fn load_or_create(dir: &Path) -> Result<Vec<u8>, String> {
    let path = dir.join("secret");
    if let Ok(secret) = std::fs::read(&path)
        && secret.len() >= 32
    {
        return Ok(secret);
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|err| format!("no random source: {err}"))?;
    let mut file = std::fs::File::create(&path)
        .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
    file.write_all(&secret)
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(secret)
}
