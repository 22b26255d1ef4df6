#[realtime::channel("chat")]
fn chat() {}

fn main() {}
