//! Compile-time behaviour of the macros: what must compile, and what must fail with the
//! reviewed message (`ui/*/fail/*.stderr`). Re-bless with `TRYBUILD=overwrite` and read the
//! diff.

use std::path::Path;

fn count(pattern_dir: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(pattern_dir);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "rs")
        })
        .count()
}

#[test]
fn ui() {
    // A glob that matches nothing passes silently: make sure the cases are there.
    assert!(count("ui/channel/pass") >= 6);
    assert!(count("ui/channel/fail") >= 16);
    assert!(count("ui/realtime_page/pass") >= 1);
    assert!(count("ui/realtime_page/fail") >= 9);
    assert!(count("ui/filter/pass") >= 4);
    assert!(count("ui/filter/fail") >= 17);

    let cases = trybuild::TestCases::new();
    cases.pass("ui/*/pass/*.rs");
    cases.compile_fail("ui/*/fail/*.rs");
}
