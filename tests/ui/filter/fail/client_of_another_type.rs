use axum_realtime::ClientId;

#[axum_realtime::filter]
fn starts_with(id: &ClientId, prefix: &str) -> bool {
    id.as_str().starts_with(prefix)
}

fn main() {}
