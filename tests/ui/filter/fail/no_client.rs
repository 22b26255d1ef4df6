#[axum_realtime::filter]
fn everyone() -> bool {
    true
}

fn main() {}
