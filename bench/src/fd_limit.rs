//! Room for many sockets: the open-file limit raised as far as this process may.

/// Lets this process hold `needed` descriptors: the soft limit up to the hard one, and the
/// hard one too where allowed (root). Warns on stderr when it cannot.
pub fn raise_fd_limit(needed: u64) {
    let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return;
    };
    if soft >= needed {
        return;
    }
    if hard < needed && rlimit::setrlimit(rlimit::Resource::NOFILE, needed, needed).is_ok() {
        return;
    }
    let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, hard.min(needed.max(soft)), hard);
    let now = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
    if now < needed {
        eprintln!(
            "warning: only {now} file descriptors allowed, {needed} wanted; raise `ulimit -n`"
        );
    }
}
