//! The key that signs login tokens, kept in the data directory so logins survive restarts and
//! every instance sharing the directory signs and verifies with the same key.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

/// How many random bytes a new key has, and the fewest an existing key file may hold.
const KEY_LEN: usize = 32;

/// Reads `<dir>/secret`, creating it with 32 random bytes on first use.
///
/// Instances started together on one directory end up with the same key: the file appears
/// whole or not at all (written aside, then hard-linked into place, which fails if it already
/// exists), and an instance that loses that race reads the winner's key.
///
/// # Errors
///
/// If the file cannot be read or created, holds fewer than 32 bytes, or the system has no
/// random source.
pub fn load_or_create(dir: &Path) -> Result<Vec<u8>, String> {
    let path = dir.join("secret");
    match std::fs::read(&path) {
        Ok(secret) => return checked(secret, &path),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    }
    let mut secret = vec![0u8; KEY_LEN];
    // A name aside no other instance picks (not derived from the key: names are public).
    let mut tag = [0u8; 8];
    getrandom::fill(&mut secret)
        .and_then(|()| getrandom::fill(&mut tag))
        .map_err(|err| format!("no random source: {err}"))?;
    let aside = dir.join(format!(".secret-{}-{}.tmp", std::process::id(), hex(&tag)));
    let placed = write_new(&aside, &secret).and_then(|()| std::fs::hard_link(&aside, &path));
    // The link (if made) keeps the file; the name aside is no longer needed either way.
    let _ = std::fs::remove_file(&aside);
    match placed {
        Ok(()) => Ok(secret),
        // Another instance placed its key first: use that one.
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let winner = std::fs::read(&path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            checked(winner, &path)
        }
        Err(err) => Err(format!("cannot create {}: {err}", path.display())),
    }
}

/// `secret`, unless it is too short to be a key this module wrote.
fn checked(secret: Vec<u8>, path: &Path) -> Result<Vec<u8>, String> {
    if secret.len() >= KEY_LEN {
        Ok(secret)
    } else {
        // Replacing it here could hand two instances different keys; a person decides.
        Err(format!(
            "{} holds {} bytes, fewer than a key's {KEY_LEN}: delete it to make a new key \
             (logins signed with the old one end)",
            path.display(),
            secret.len()
        ))
    }
}

/// Writes `bytes` to a file that must not exist yet, readable by its owner only, and flushes
/// it to disk so that the name linked to it never shows a partial key.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    fn fresh_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("example-chat-secret-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_key_is_made_once_and_read_back() {
        let dir = fresh_dir("once");
        let first = load_or_create(&dir).unwrap();
        assert_eq!(first.len(), KEY_LEN);
        assert_eq!(load_or_create(&dir).unwrap(), first);
        assert_eq!(std::fs::read(dir.join("secret")).unwrap(), first);
        // Nothing is left aside.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loaders_started_together_share_one_key() {
        const LOADERS: usize = 8;
        for round in 0..20 {
            let dir = fresh_dir(&format!("race-{round}"));
            let start = Barrier::new(LOADERS);
            let keys: Vec<Vec<u8>> = std::thread::scope(|scope| {
                let loaders: Vec<_> = (0..LOADERS)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            load_or_create(&dir).unwrap()
                        })
                    })
                    .collect();
                loaders.into_iter().map(|l| l.join().unwrap()).collect()
            });
            assert!(
                keys.iter().all(|key| *key == keys[0]),
                "round {round}: loaders started together got different keys"
            );
            assert_eq!(std::fs::read(dir.join("secret")).unwrap(), keys[0]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_short_key_file_is_refused_not_replaced() {
        let dir = fresh_dir("short");
        std::fs::write(dir.join("secret"), b"short").unwrap();
        let err = load_or_create(&dir).unwrap_err();
        assert!(err.contains("holds 5 bytes"), "{err}");
        assert_eq!(std::fs::read(dir.join("secret")).unwrap(), b"short");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
