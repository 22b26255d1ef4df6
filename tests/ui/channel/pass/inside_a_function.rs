// Channels can be declared inside a function body.
fn main() {
    #[axum_realtime::channel("local")]
    struct Local {
        n: u32,
    }

    let rt = axum_realtime::Realtime::new();
    let _ = Local { n: 1 }.send_to(&rt, axum_realtime::everyone).unwrap();
    assert!(axum_realtime::channel::channels().any(|c| c.name == "local"));
}
