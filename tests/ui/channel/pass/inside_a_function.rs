// Channels can be declared inside a function body.
fn main() {
    #[realtime::channel("local")]
    struct Local {
        n: u32,
    }

    let rt = realtime::Realtime::new();
    let _ = Local { n: 1 }.send_to(&rt, realtime::everyone).unwrap();
    assert!(realtime::channels().any(|c| c.name == "local"));
}
