//! Subscription keys and the options the JS SDK encodes into them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// One subscription of a client: the key exactly as the client sent it, the topic it listens
/// to, and the options parsed from it.
///
/// The JS SDK encodes per-subscription options into the key, as
/// `chat?options=<encodeURIComponent(JSON({query, headers}))>`. Such a key listens to the topic
/// `chat`, and events for it go out under the full key, which is the name the SDK listens for.
#[derive(Debug, Clone)]
pub struct Subscription {
    key: Arc<str>,
    topic_len: usize,
    options: SubscriptionOptions,
}

/// Options a client attached to one subscription. A malformed options value is ignored, as
/// PocketBase ignores it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Query parameters the client attached (`{query: {roomId: "r1"}}`).
    pub query: BTreeMap<String, String>,
    /// Headers the client attached, names in `snake_case` as PocketBase keeps them.
    pub headers: BTreeMap<String, String>,
}

impl Subscription {
    /// Parses a key as sent by a client.
    #[must_use]
    pub fn parse(key: &str) -> Self {
        let (topic_len, options) = match key.split_once('?') {
            Some((topic, query)) => (topic.len(), parse_options(query)),
            None => (key.len(), SubscriptionOptions::default()),
        };
        Self {
            key: key.into(),
            topic_len,
            options,
        }
    }

    /// The key exactly as the client sent it; also the SSE event name of its messages.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn shared_key(&self) -> &Arc<str> {
        &self.key
    }

    /// The topic this key listens to: the key up to its first `?`.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.key[..self.topic_len]
    }

    /// The options encoded in the key.
    #[must_use]
    pub fn options(&self) -> &SubscriptionOptions {
        &self.options
    }
}

fn parse_options(query: &str) -> SubscriptionOptions {
    let raw = form_urlencoded::parse(query.split('#').next().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "options")
        .map(|(_, raw)| raw);
    let Some(Value::Object(options)) = raw.and_then(|raw| serde_json::from_str(&raw).ok()) else {
        return SubscriptionOptions::default();
    };
    SubscriptionOptions {
        query: string_map(options.get("query"), str::to_owned),
        headers: string_map(options.get("headers"), snake_case),
    }
}

/// PocketBase's reading of an options map: any value becomes text (`1` → `"1"`, `true` →
/// `"true"`; `null`, arrays and objects → `""`), and a map that is not an object is empty.
fn string_map(value: Option<&Value>, name: fn(&str) -> String) -> BTreeMap<String, String> {
    let Some(Value::Object(map)) = value else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
            };
            (name(key), text)
        })
        .collect()
}

/// Header names as PocketBase normalizes them: `X-Token` → `x_token`, `fooBar` → `foo_bar`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower_or_digit = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && previous_lower_or_digit {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            previous_lower_or_digit = c.is_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            previous_lower_or_digit = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_key_is_its_own_topic() {
        let sub = Subscription::parse("chat");
        assert_eq!(sub.topic(), "chat");
        assert_eq!(sub.key(), "chat");
        assert_eq!(sub.options(), &SubscriptionOptions::default());
    }

    #[test]
    fn sdk_options_are_parsed() {
        let key = "chat?options=%7B%22query%22%3A%7B%22roomId%22%3A%22r1%22%7D%2C%22headers%22%3A%7B%22x-a%22%3A%22b%22%7D%7D";
        let sub = Subscription::parse(key);
        assert_eq!(sub.topic(), "chat");
        assert_eq!(sub.key(), key);
        assert_eq!(sub.options().query["roomId"], "r1");
        assert_eq!(sub.options().headers["x_a"], "b");
    }

    #[test]
    fn option_values_become_text_as_in_pocketbase() {
        let json = r#"{"query":{"n":1,"f":1.5,"b":true,"z":null,"a":[1]},"headers":{"X-Token":"t","fooBar":"x"}}"#;
        let key = format!(
            "chat?options={}",
            form_urlencoded::byte_serialize(json.as_bytes()).collect::<String>()
        );
        let options = Subscription::parse(&key).options().clone();
        let query: Vec<_> = options
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("a", ""),
                ("b", "true"),
                ("f", "1.5"),
                ("n", "1"),
                ("z", "")
            ]
        );
        let headers: Vec<_> = options.headers.keys().map(String::as_str).collect();
        assert_eq!(headers, ["foo_bar", "x_token"]);
    }

    #[test]
    fn malformed_options_are_ignored() {
        for key in [
            "chat?options=%7Bnot-json",
            "chat?options=",
            "chat?options=5",
            "chat?other=1",
            "chat?",
        ] {
            let sub = Subscription::parse(key);
            assert_eq!(sub.topic(), "chat", "{key}");
            assert_eq!(sub.options(), &SubscriptionOptions::default(), "{key}");
        }
    }
}
