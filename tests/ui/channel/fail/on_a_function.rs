#[axum_realtime::channel("chat")]
fn chat() {}

fn main() {}
