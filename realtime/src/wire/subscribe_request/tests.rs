//! The body's reading and bounds, and a property test: on bodies within the limits, the bounded
//! parser agrees with the parser it replaced (every string materialised, then validated).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http_body::{Frame, SizeHint};
use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::*;

/// A body served chunk by chunk, counting the chunks taken; a broken one ends in an error.
struct Chunks {
    left: VecDeque<Bytes>,
    broken: bool,
    taken: Arc<AtomicUsize>,
    declared: Option<u64>,
}

/// A body of `chunks` whose length is declared (as by `Content-Length`), or not (as chunked).
fn body_of(
    declared: Option<u64>,
    chunks: impl IntoIterator<Item = Bytes>,
) -> (Body, Arc<AtomicUsize>) {
    let taken = Arc::new(AtomicUsize::new(0));
    let body = Chunks {
        left: chunks.into_iter().collect(),
        broken: false,
        taken: taken.clone(),
        declared,
    };
    (Body::new(body), taken)
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.taken.fetch_add(1, Ordering::Relaxed);
        let next = match self.left.pop_front() {
            Some(chunk) => Some(Ok(Frame::data(chunk))),
            None if self.broken => Some(Err(io::ErrorKind::ConnectionReset.into())),
            None => None,
        };
        Poll::Ready(next)
    }

    fn size_hint(&self) -> SizeHint {
        self.declared
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

/// A client that sent its head and then nothing.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        Poll::Pending
    }
}

const LIMIT: usize = 1000;
const SOON: Duration = Duration::from_secs(5);

fn chunk(len: usize) -> Bytes {
    Bytes::from(vec![b' '; len])
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_unread() {
    let (body, taken) = body_of(Some(LIMIT as u64 + 1), [chunk(LIMIT + 1)]);
    assert_eq!(
        read_within(body, LIMIT, SOON).await,
        Err(ApiError::too_large())
    );
    assert_eq!(taken.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_stream_over_the_limit_is_refused_at_the_limit() {
    let (body, taken) = body_of(None, (0..100).map(|_| chunk(300)));
    assert_eq!(
        read_within(body, LIMIT, SOON).await,
        Err(ApiError::too_large())
    );
    assert_eq!(
        taken.load(Ordering::Relaxed),
        4,
        "the fourth chunk crosses 1000 bytes"
    );
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_whole_into_no_more_than_the_limit() {
    let (body, _) = body_of(None, [chunk(1), chunk(399), chunk(300), chunk(300)]);
    let read = read_within(body, LIMIT, SOON).await.unwrap();
    assert_eq!(read.len(), LIMIT);
    assert!(read.capacity() <= LIMIT, "{}", read.capacity());

    let (body, _) = body_of(Some(LIMIT as u64), [chunk(LIMIT)]);
    assert_eq!(read_within(body, LIMIT, SOON).await.unwrap().len(), LIMIT);
}

#[tokio::test]
async fn the_buffer_grows_with_what_arrives_up_to_the_declared_length() {
    let (body, _) = body_of(Some(700), [chunk(1), chunk(99), chunk(300), chunk(300)]);
    assert_eq!(
        read_within(body, LIMIT, SOON).await.unwrap().capacity(),
        700
    );

    // hyper ends a body shorter than declared with an error; until then, it costs what came.
    let (body, _) = body_of(Some(LIMIT as u64), [chunk(10)]);
    assert_eq!(read_within(body, LIMIT, SOON).await.unwrap().capacity(), 10);
}

#[tokio::test]
async fn a_stalled_body_is_refused_at_the_deadline() {
    let read = read_within(Body::new(Stalled), LIMIT, Duration::from_millis(50));
    let answer = tokio::time::timeout(SOON, read)
        .await
        .expect("the deadline ends the read");
    assert_eq!(answer, Err(ApiError::bad_request()));
}

#[tokio::test]
async fn a_body_that_breaks_off_is_a_bad_request() {
    let body = Chunks {
        left: [chunk(10)].into(),
        broken: true,
        taken: Arc::default(),
        declared: None,
    };
    assert_eq!(
        read_within(Body::new(body), LIMIT, SOON).await,
        Err(ApiError::bad_request())
    );
}

fn json(body: &str) -> Result<SubscribeRequest, ApiError> {
    SubscribeRequest::parse(&content_type("application/json"), body.as_bytes())
}

fn form(body: &str) -> SubscribeRequest {
    let form = content_type("application/x-www-form-urlencoded");
    SubscribeRequest::parse(&form, body.as_bytes()).unwrap()
}

fn content_type(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
    headers
}

fn many_keys(count: usize) -> String {
    vec![r#""k""#; count].join(",")
}

#[test]
fn keys_past_1000_are_counted_not_kept() {
    let request = json(&format!(
        r#"{{"clientId":"c","subscriptions":[{}]}}"#,
        many_keys(5000)
    ))
    .unwrap();
    assert_eq!(request.subscriptions.len(), 1000);
    assert_eq!(request.key_count, 5000);
    let mut too_many = Map::new();
    too_many.insert("subscriptions".into(), too_long(1000));
    assert_eq!(request.validate(), Err(ApiError::validation(too_many)));

    let body = format!("clientId=c{}", "&subscriptions=k".repeat(5000));
    let request = form(&body);
    assert_eq!(
        (request.subscriptions.len(), request.key_count),
        (1000, 5000)
    );
}

#[test]
fn keys_past_1000_must_still_be_strings() {
    let body = format!(
        r#"{{"clientId":"c","subscriptions":[{},7]}}"#,
        many_keys(2000)
    );
    assert_eq!(json(&body), Err(ApiError::bad_request()));
}

#[test]
fn long_values_are_not_kept() {
    let long = "x".repeat(100_000);
    let request = json(&format!(
        r#"{{"clientId":"{long}","subscriptions":["a","{long}"]}}"#
    ))
    .unwrap();
    assert!(request.client_id_too_long);
    assert_eq!(request.client_id.capacity(), 0);
    assert_eq!(request.subscriptions, ["a", ""]);
    assert_eq!(request.subscriptions[1].capacity(), 0);
    assert_eq!(request.too_long_keys, [1]);

    let request = form(&format!("clientId={long}&subscriptions={long}"));
    assert!(request.client_id_too_long);
    assert_eq!(request.too_long_keys, [0]);
}

/// The parser this module replaced: every string materialised, then validated.
mod reference {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Request {
        #[serde(default)]
        pub(super) client_id: String,
        #[serde(default, deserialize_with = "null_as_empty")]
        pub(super) subscriptions: Vec<String>,
    }

    fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
    }

    pub(super) fn parse(form: bool, body: &[u8]) -> Option<Request> {
        if body.is_empty() {
            Some(Request::default())
        } else if form {
            let mut request = Request::default();
            for (name, value) in form_urlencoded::parse(body) {
                match &*name {
                    "clientId" => request.client_id = value.into_owned(),
                    "subscriptions" => request.subscriptions.push(value.into_owned()),
                    _ => {}
                }
            }
            Some(request)
        } else {
            serde_json::Deserializer::from_slice(body)
                .into_iter::<Request>()
                .next()
                .and_then(Result::ok)
        }
    }

    pub(super) fn validate(request: &Request) -> Result<(), ApiError> {
        let mut data = Map::new();
        if request.client_id.is_empty() {
            data.insert(
                "clientId".into(),
                field_error("validation_required", "Cannot be blank."),
            );
        } else if request.client_id.len() > MAX_CLIENT_ID {
            data.insert("clientId".into(), out_of_range(1, MAX_CLIENT_ID));
        }
        if request.subscriptions.len() > MAX_SUBSCRIPTIONS {
            data.insert("subscriptions".into(), too_long(MAX_SUBSCRIPTIONS));
        } else {
            let mut bad: Vec<(String, Value)> = Vec::new();
            for (index, key) in request.subscriptions.iter().enumerate() {
                if key.len() > MAX_KEY {
                    bad.push((index.to_string(), too_long(MAX_KEY)));
                } else if !key.is_empty() && !sse::is_valid_event_name(key) {
                    bad.push((
                        index.to_string(),
                        field_error(
                            "validation_invalid_subscription",
                            "Must not contain line breaks or NUL characters.",
                        ),
                    ));
                }
            }
            if !bad.is_empty() {
                bad.sort_by(|a, b| a.0.cmp(&b.0));
                data.insert(
                    "subscriptions".into(),
                    Value::Object(bad.into_iter().collect()),
                );
            }
        }
        if data.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(data))
        }
    }
}

/// Both parsers read `body` alike: the same refusals, the same validation errors, and the
/// bounded one keeps exactly what it should of what the reference materialised.
fn agree(form: bool, body: &[u8]) -> Result<(), TestCaseError> {
    let headers = content_type(if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    });
    let bounded = SubscribeRequest::parse(&headers, body);
    match (bounded, reference::parse(form, body)) {
        (Err(refused), None) => prop_assert_eq!(refused, ApiError::bad_request()),
        (Ok(bounded), Some(all)) => {
            prop_assert_eq!(bounded.validate(), reference::validate(&all));
            let id = if all.client_id.len() > MAX_CLIENT_ID {
                ""
            } else {
                &all.client_id
            };
            prop_assert_eq!(&bounded.client_id, id);
            let kept: Vec<&str> = all
                .subscriptions
                .iter()
                .take(MAX_SUBSCRIPTIONS)
                .map(|key| if key.len() > MAX_KEY { "" } else { key })
                .collect();
            prop_assert_eq!(bounded.subscriptions, kept);
            prop_assert_eq!(bounded.key_count, all.subscriptions.len());
        }
        (bounded, all) => prop_assert!(false, "bounded {bounded:?}, reference {all:?}"),
    }
    Ok(())
}

/// Characters that matter to keys: option syntax, multi-byte, quoting, a control character.
const FRAMEABLE: [char; 13] = [
    'a', 'b', '?', '=', '%', ',', ' ', '\u{1}', 'é', '€', '😀', '"', '\\',
];

/// What a key cannot hold: it cannot be framed.
const UNFRAMEABLE: [char; 3] = ['\n', '\r', '\0'];

fn short_text() -> impl Strategy<Value = String> {
    let frameable = prop::collection::vec(select(&FRAMEABLE[..]), 0..6);
    let any = prop::collection::vec(
        prop_oneof![4 => select(&FRAMEABLE[..]), 1 => select(&UNFRAMEABLE[..])],
        0..6,
    );
    prop_oneof![3 => frameable, 1 => any].prop_map(String::from_iter)
}

/// Around each length limit, counted in bytes.
fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (2490..2510_usize).prop_map(|n| "x".repeat(n)),
        (830..836_usize).prop_map(|n| "€".repeat(n)),
        Just(format!("\n{}", "x".repeat(2500))),
        (250..260_usize).prop_map(|n| "i".repeat(n)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![12 => short_text(), 1 => long_text()]
}

#[derive(Clone, Debug)]
enum Json {
    Null,
    Number,
    Text(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// How a document is written: strings plain or `\u`-escaped (read from the body, or from
/// `serde_json`'s scratch buffer), and with or without whitespace between tokens.
#[derive(Clone, Copy, Debug)]
struct Style {
    escaped: bool,
    spaced: bool,
}

impl Json {
    fn render(&self, style: Style, out: &mut String) {
        let space = if style.spaced { " \n\t" } else { "" };
        match self {
            Self::Null => out.push_str("null"),
            Self::Number => out.push_str("-1.5e3"),
            Self::Text(text) if style.escaped => {
                out.push('"');
                for unit in text.encode_utf16() {
                    write!(out, "\\u{unit:04x}").unwrap();
                }
                out.push('"');
            }
            Self::Text(text) => out.push_str(&serde_json::to_string(text).unwrap()),
            Self::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space);
                    item.render(style, out);
                }
                out.push_str(space);
                out.push(']');
            }
            Self::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space);
                    Self::Text(name.clone()).render(style, out);
                    out.push_str(space);
                    out.push(':');
                    value.render(style, out);
                }
                out.push_str(space);
                out.push('}');
            }
        }
    }
}

fn key_list() -> impl Strategy<Value = Json> {
    let element = prop_oneof![
        60 => text().prop_map(Json::Text),
        1 => Just(Json::Number),
        1 => Just(Json::Null),
    ];
    let few = prop::collection::vec(element, 0..8);
    // Around the 1000-key limit, sometimes with one element that is no string.
    let many = (
        (995..1006_usize, any::<bool>()).prop_flat_map(|(n, long)| {
            let key = if long {
                text().boxed()
            } else {
                short_text().boxed()
            };
            prop::collection::vec(key, n)
        }),
        prop::option::weighted(0.25, (any::<bool>(), any::<Index>())),
    )
        .prop_map(|(keys, wrong)| {
            let mut items: Vec<Json> = keys.into_iter().map(Json::Text).collect();
            if let Some((last, index)) = wrong {
                // The last is past the 1000th in about half the lists.
                let at = if last {
                    items.len() - 1
                } else {
                    index.index(items.len())
                };
                items[at] = Json::Number;
            }
            items
        });
    prop_oneof![3 => few, 2 => many].prop_map(Json::List)
}

fn client_id() -> impl Strategy<Value = Json> {
    prop_oneof![
        8 => "[A-Za-z0-9]{1,40}".prop_map(Json::Text),
        4 => text().prop_map(Json::Text),
        1 => Just(Json::Text(String::new())),
        1 => Just(Json::Number),
        1 => Just(Json::Null),
        1 => Just(Json::List(vec![])),
    ]
}

fn subscriptions() -> impl Strategy<Value = Json> {
    prop_oneof![
        6 => key_list(),
        1 => Just(Json::Null),
        1 => Just(Json::Number),
        1 => short_text().prop_map(Json::Text),
    ]
}

fn anything() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        Just(Json::Number),
        short_text().prop_map(Json::Text),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::List),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(Json::Object),
        ]
    })
}

/// Fields in any order, repeated or missing, among unknown ones; or the array form
/// `[clientId, subscriptions]`; or no object at all.
fn document() -> impl Strategy<Value = Json> {
    let field = prop_oneof![
        3 => client_id().prop_map(|v| ("clientId".to_owned(), v)),
        3 => subscriptions().prop_map(|v| ("subscriptions".to_owned(), v)),
        1 => anything().prop_map(|v| ("other".to_owned(), v)),
        1 => anything().prop_map(|v| ("clientid".to_owned(), v)),
    ];
    let each_once = (
        prop::option::weighted(0.9, client_id()),
        prop::option::weighted(0.9, subscriptions()),
        prop::option::of(anything()),
        any::<bool>(),
    )
        .prop_map(|(id, keys, other, reversed)| {
            let mut fields: Vec<(String, Json)> = [
                id.map(|v| ("clientId".to_owned(), v)),
                keys.map(|v| ("subscriptions".to_owned(), v)),
                other.map(|v| ("other".to_owned(), v)),
            ]
            .into_iter()
            .flatten()
            .collect();
            if reversed {
                fields.reverse();
            }
            Json::Object(fields)
        });
    prop_oneof![
        6 => each_once,
        2 => prop::collection::vec(field, 0..4).prop_map(Json::Object),
        1 => (client_id(), subscriptions(), 0..4_usize).prop_map(|(id, keys, len)| {
            let mut items = vec![id, keys, Json::Null];
            items.truncate(len);
            Json::List(items)
        }),
        1 => anything(),
    ]
}

const TRAILERS: [&str; 8] = [
    "",
    " ",
    " trailing",
    "}",
    ",",
    r#"{"clientId":"z"}"#,
    "\0",
    "]",
];

fn json_body() -> impl Strategy<Value = Vec<u8>> {
    (
        document(),
        any::<bool>(),
        any::<bool>(),
        select(&TRAILERS[..]),
    )
        .prop_map(|(document, escaped, spaced, trailer)| {
            let mut body = String::new();
            document.render(Style { escaped, spaced }, &mut body);
            body.push_str(trailer);
            body.into_bytes()
        })
}

fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let name = select(
        &[
            "clientId",
            "subscriptions",
            "other",
            "client%49d",
            "subscriptions%5B%5D",
        ][..],
    );
    let pair = (name, text(), any::<bool>()).prop_map(|(name, value, encoded)| {
        let value: String = if encoded {
            form_urlencoded::byte_serialize(value.as_bytes()).collect()
        } else {
            value
        };
        format!("{name}={value}")
    });
    let many = (995..1006_usize).prop_flat_map(|n| {
        prop::collection::vec(text().prop_map(|key| format!("subscriptions={key}")), n)
    });
    prop_oneof![4 => prop::collection::vec(pair, 0..8), 1 => many]
        .prop_map(|pairs| pairs.join("&").into_bytes())
}

/// Bytes that make JSON and forms, and some that make neither.
fn scrambled() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(&b"{}[]\",:0 a\\nul%+&=\xff\xc3"[..]), 0..48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_bodies_are_read_as_before(body in json_body()) {
        agree(false, &body)?;
    }

    #[test]
    fn form_bodies_are_read_as_before(body in form_body()) {
        agree(true, &body)?;
    }

    #[test]
    fn scrambled_bodies_are_read_as_before(body in scrambled(), form in any::<bool>()) {
        agree(form, &body)?;
    }
}
