//! What the crate logs: a span per stream and events for its start, its subscriptions, the
//! sends it receives and its end, alike on the direct path (`Realtime::serve`) and on
//! hyper's (`axum::serve`).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum_realtime::{Realtime, everyone};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime};
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;
use tokio::net::TcpListener;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// One event as logged: its message, its fields, and the span it came in (name and fields).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    message: String,
    fields: Fields,
    span: Option<(String, Fields)>,
}

#[derive(Default)]
struct Captured {
    events: Vec<Logged>,
    /// How often a span of each name was entered.
    entered: BTreeMap<String, usize>,
}

/// A layer that keeps what the crate logs.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

impl Capture {
    fn with<T>(&self, read: impl FnOnce(&Captured) -> T) -> T {
        read(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Recorder<'a>(&'a mut Fields);

impl Visit for Recorder<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Recorder(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut captured = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            *captured.entered.entry(span.name().to_owned()).or_default() += 1;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("axum_realtime") {
            return;
        }
        let mut fields = Fields::new();
        event.record(&mut Recorder(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let span = ctx.event_span(event).map(|span| {
            let fields = span
                .extensions()
                .get::<Fields>()
                .cloned()
                .unwrap_or_default();
            (span.name().to_owned(), fields)
        });
        let mut captured = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        captured.events.push(Logged {
            message,
            fields,
            span,
        });
    }
}

/// What one stream's life logs, on a server `start` runs: its client id, and the events of
/// interest with the id replaced by `<id>`, so that two runs compare.
async fn one_stream_life(capture: &Capture, addr: SocketAddr, rt: &Realtime) -> Vec<Logged> {
    let mut stream = SseStream::open(addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat","news"]}}"#);
    assert_eq!(post_realtime(addr, &body, None).await.status, 204);
    let unknown = r#"{"clientId":"nobody","subscriptions":["chat"]}"#;
    assert_eq!(post_realtime(addr, unknown, None).await.status, 404);
    assert_eq!(rt.send_to("chat", &"hi", everyone).unwrap().reached, 1);
    assert!(stream.next_event(READ_TIMEOUT).await.is_some());
    rt.client(&id).unwrap().disconnect();
    assert!(stream.ended_within(READ_TIMEOUT).await);
    eventually("the stream's end is logged", || {
        capture.with(|c| c.events.iter().any(|e| e.message == "stream ended"))
    })
    .await;
    let anonymize = |fields: &Fields| -> Fields {
        fields
            .iter()
            .map(|(name, value)| {
                let value = value.replace(&id, "<id>");
                (name.clone(), value)
            })
            .collect()
    };
    let of_interest = [
        "stream started",
        "subscriptions changed",
        "subscription refused",
        "sent",
        "stream ended",
    ];
    capture.with(|captured| {
        assert!(
            captured
                .entered
                .get("realtime_stream")
                .copied()
                .unwrap_or(0)
                > 0,
            "the stream's span is entered while it is polled"
        );
        captured
            .events
            .iter()
            .filter(|event| of_interest.contains(&event.message.as_str()))
            .map(|event| Logged {
                message: event.message.clone(),
                fields: anonymize(&event.fields),
                span: event
                    .span
                    .as_ref()
                    .map(|(name, fields)| (name.clone(), anonymize(fields))),
            })
            .collect()
    })
}

fn capturing() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

// One thread: the server's tasks run where the capturing subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn both_stream_paths_log_the_same_span_and_events() {
    let direct = {
        let (capture, _guard) = capturing();
        let rt = Realtime::new();
        let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
        one_stream_life(&capture, server.addr, &rt).await
    };
    let hyper = {
        let (capture, _guard) = capturing();
        let rt = Realtime::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = rt
            .mount(axum::Router::new())
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let logged = one_stream_life(&capture, addr, &rt).await;
        server.abort();
        logged
    };
    let span = |path: &str| {
        Some((
            "realtime_stream".to_owned(),
            Fields::from([
                ("client".to_owned(), "<id>".to_owned()),
                ("addr".to_owned(), "127.0.0.1".to_owned()),
                ("path".to_owned(), path.to_owned()),
            ]),
        ))
    };
    let fields = |pairs: &[(&str, &str)]| -> Fields {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };
    let expected = |path: &str| {
        vec![
            Logged {
                message: "stream started".to_owned(),
                fields: Fields::new(),
                span: span(path),
            },
            Logged {
                message: "subscriptions changed".to_owned(),
                fields: fields(&[("client", "<id>"), ("keys", "2"), ("auth_changed", "false")]),
                span: None,
            },
            Logged {
                message: "subscription refused".to_owned(),
                fields: fields(&[("status", "404")]),
                span: None,
            },
            Logged {
                message: "sent".to_owned(),
                fields: fields(&[("topic", "chat"), ("reached", "1"), ("dropped", "0")]),
                span: None,
            },
            Logged {
                message: "stream ended".to_owned(),
                fields: fields(&[("client", "<id>"), ("reason", "application")]),
                span: span(path),
            },
        ]
    };
    assert_eq!(direct, expected("direct"));
    assert_eq!(hyper, expected("hyper"));
}
