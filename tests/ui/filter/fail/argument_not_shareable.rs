use std::cell::Cell;

use axum_realtime::Client;

#[axum_realtime::filter]
fn at_least(client: &Client, level: &Cell<u32>) -> bool {
    client.get::<u32>("level").is_some_and(|have| have >= level.get())
}

fn main() {}
