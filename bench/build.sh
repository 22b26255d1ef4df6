# Sourced by bench/run.sh and bench/callgrind.sh: builds the bench binaries (release) and sets
# SERVER, LOADGEN and MICRO to where cargo put them (`CARGO_TARGET_DIR` or a cargo config may
# move the target directory).
echo "== cargo build --release -p axum-realtime-bench"
cargo build --release -p axum-realtime-bench
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
SERVER="$TARGET_DIR/release/bench-server"
LOADGEN="$TARGET_DIR/release/loadgen"
MICRO="$TARGET_DIR/release/broker-micro"
