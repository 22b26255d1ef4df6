//! Installs the browser libraries the examples serve (htmx, the PocketBase JS SDK) from the npm
//! registry, at the versions locked in `package-lock.json`, into `OUT_DIR`; the library embeds
//! them, so the running examples need no network. Nothing from npm is committed.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let npm_dir = Path::new(&out).join("npm");
    std::fs::create_dir_all(&npm_dir).expect("create OUT_DIR/npm");
    println!("cargo::rerun-if-changed=package.json");
    println!("cargo::rerun-if-changed=package-lock.json");

    let lock = std::fs::read(Path::new(&manifest).join("package-lock.json"))
        .expect("examples/support/package-lock.json is committed");
    let installed_lock = npm_dir.join("package-lock.json");
    let up_to_date = std::fs::read(&installed_lock).is_ok_and(|old| old == lock)
        && npm_dir
            .join("node_modules/htmx.org/dist/htmx.min.js")
            .is_file()
        && npm_dir
            .join("node_modules/pocketbase/dist/pocketbase.umd.js")
            .is_file();
    if up_to_date {
        return;
    }
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(Path::new(&manifest).join(file), npm_dir.join(file))
            .unwrap_or_else(|err| panic!("copy {file}: {err}"));
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&npm_dir)
        .status()
        .unwrap_or_else(|err| {
            panic!("the examples need npm to fetch htmx and the PocketBase SDK ({err}); install Node.js and npm")
        });
    assert!(status.success(), "`npm ci` failed in {}", npm_dir.display());
}
