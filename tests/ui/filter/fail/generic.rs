use axum_realtime::Client;

#[axum_realtime::filter]
fn equals<T: PartialEq>(client: &Client, key: &str, value: T) -> bool {
    client.has(key) && value == value
}

fn main() {}
