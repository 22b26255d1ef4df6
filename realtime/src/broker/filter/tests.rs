use serde_json::json;

use super::*;
use crate::auth::{AUTH_KEY, AuthRecord};

fn user(id: &str) -> Client {
    let client = Client::detached();
    client.set(AUTH_KEY, AuthRecord::new(id));
    client
}

#[test]
fn the_default_filter_reaches_the_senders_user_or_everyone() {
    let (ann, bob, guest) = (user("ann"), user("bob"), Client::detached());

    let filter = same_user_or_all(&RequestAuth::user(AuthRecord::new("ann")));
    assert!(filter.accepts(&ann));
    assert!(!filter.accepts(&bob));
    assert!(!filter.accepts(&guest));

    let filter = same_user_or_all(&RequestAuth::guest());
    assert!([&ann, &bob, &guest].iter().all(|c| filter.accepts(c)));
}

#[test]
fn auth_rules_read_the_clients_record() {
    let admin = Client::detached();
    admin.set(AUTH_KEY, AuthRecord::superuser("root"));
    let moderator = Client::detached();
    moderator.set(
        AUTH_KEY,
        AuthRecord::new("m")
            .in_collection("staff")
            .with("role", "moderator"),
    );
    let (ann, guest) = (user("ann"), Client::detached());

    assert!(Filter::superusers().accepts(&admin));
    assert!(!Filter::superusers().accepts(&ann));
    assert!(Filter::collection("staff").accepts(&moderator));
    assert!(!Filter::collection("staff").accepts(&ann));
    assert!(Filter::auth_field("role", "moderator").accepts(&moderator));
    assert!(!Filter::auth_field("role", "moderator").accepts(&ann));
    assert!(Filter::auth_field("id", "ann").accepts(&ann));
    assert!(Filter::auth_field("collectionName", "staff").accepts(&moderator));
    assert!(Filter::guests().accepts(&guest));
    assert!(!Filter::guests().accepts(&ann));
    assert!(Filter::user("ann").accepts(&ann));
    for filter in [
        Filter::superusers(),
        Filter::collection("users"),
        Filter::auth_field("role", "moderator"),
        Filter::user("ann"),
    ] {
        assert!(!filter.accepts(&guest), "{filter:?}");
    }
}

#[test]
fn stored_values_match_in_their_natural_types() {
    let client = Client::detached();
    client.set("room", String::from("7"));
    client.set("static", "lobby");
    client.set("seat", 12_u32);
    client.set("score", -3_i64);
    client.set("ratio", 0.5_f64);
    client.set("muted", true);
    client.set("tags", json!(["a", "b"]));

    for (key, value) in [
        ("room", json!("7")),
        ("static", json!("lobby")),
        ("seat", json!(12)),
        ("score", json!(-3)),
        ("ratio", json!(0.5)),
        ("muted", json!(true)),
        ("tags", json!(["a", "b"])),
    ] {
        assert!(
            Filter::stored(key, value.clone()).accepts(&client),
            "{key} = {value}"
        );
    }
    for (key, value) in [
        ("room", json!(7)),
        ("room", json!("8")),
        ("seat", json!("12")),
        ("seat", json!(-12)),
        ("muted", json!(false)),
        ("missing", json!("7")),
        ("tags", json!(["a"])),
    ] {
        assert!(
            !Filter::stored(key, value.clone()).accepts(&client),
            "{key} = {value}"
        );
    }
}

#[test]
fn combinations_and_their_identities() {
    let (ann, bob) = (user("ann"), user("bob"));
    ann.set("room", String::from("7"));
    let in_7 = Filter::stored("room", "7");

    assert!(in_7.clone().and(Filter::user("ann")).accepts(&ann));
    assert!(!in_7.clone().and(Filter::user("bob")).accepts(&ann));
    assert!(in_7.clone().or(Filter::user("bob")).accepts(&bob));
    assert!(!in_7.clone().or(Filter::user("ann")).accepts(&bob));
    assert!((!in_7.clone()).accepts(&bob));
    assert_eq!(!!in_7.clone(), in_7);
    assert!(Filter::all([]).accepts(&bob));
    assert!(!Filter::any([]).accepts(&bob));
    let nested = in_7.clone().and(Filter::user("ann")).and(Filter::guests());
    assert_eq!(
        nested,
        Filter::all([in_7, Filter::user("ann"), Filter::guests()]),
        "nested conjunctions are one"
    );
}

#[test]
fn filters_travel_as_json_and_come_back_the_same() {
    let filter = Filter::stored("room", "7")
        .and(!Filter::guests())
        .or(Filter::superusers().and(Filter::subscribed_to("news")))
        .or(Filter::named("app::in_room", json!(["7"])));
    let text = serde_json::to_string(&filter).unwrap();
    let back: Filter = serde_json::from_str(&text).unwrap();
    assert_eq!(back, filter);
    assert_eq!(serde_json::to_string(&everyone).unwrap(), r#""everyone""#);
    assert_eq!(
        serde_json::to_value(Filter::user("u1")).unwrap(),
        json!({"user": "u1"})
    );
}

#[test]
fn a_subscription_elsewhere_can_be_required() {
    let client = Client::detached();
    assert!(!Filter::subscribed_to("news").accepts(&client));
    client.replace_subscriptions(vec![crate::Subscription::parse("news")]);
    assert!(Filter::subscribed_to("news").accepts(&client));
}

fn starts_with(args: &Value) -> Result<named::Predicate, serde_json::Error> {
    let (prefix,): (String,) = serde_json::from_value(args.clone())?;
    Ok(Box::new(move |client: &Client| {
        client.id().as_str().starts_with(prefix.as_str())
    }))
}

inventory::submit!(NamedFilter::new("filter::tests::starts_with", starts_with));

#[test]
fn named_functions_run_with_their_arguments_and_unknown_ones_reach_nobody() {
    let client = Client::detached();
    let first = &client.id().as_str()[..1];
    assert!(Filter::named("filter::tests::starts_with", json!([first])).accepts(&client));
    assert!(!Filter::named("filter::tests::starts_with", json!(["-"])).accepts(&client));
    assert!(!Filter::named("filter::tests::starts_with", json!([1, 2])).accepts(&client));
    assert!(!Filter::named("no::such::filter", json!([])).accepts(&client));
    // Negated or combined, a part this node cannot run still makes the whole reach nobody.
    assert!(!(!Filter::named("no::such::filter", json!([]))).accepts(&client));
    assert!(
        !everyone
            .or(Filter::named("no::such::filter", json!([])))
            .accepts(&client)
    );
}

inventory::submit!(NamedFilter::new("filter::tests::twice", starts_with));
inventory::submit!(NamedFilter::new("filter::tests::twice", starts_with));

#[test]
fn two_functions_of_one_name_reach_nobody() {
    let client = Client::detached();
    let first = &client.id().as_str()[..1];
    assert!(Filter::named("filter::tests::starts_with", json!([first])).accepts(&client));
    assert!(!Filter::named("filter::tests::twice", json!([first])).accepts(&client));
}

#[test]
fn the_generated_codes_arguments_are_an_array_of_their_count() {
    use attribute::{arguments, encode, named_filter};
    let filter = named_filter("app::f", [encode("7"), encode(3_u8)]);
    assert_eq!(filter, Filter::named("app::f", json!(["7", 3])));
    assert_eq!(
        arguments::<2>(&json!(["7", 3])).unwrap(),
        &[json!("7"), json!(3)]
    );
    for wrong in [
        json!(["7"]),
        json!(["7", 3, 4]),
        json!({"0": "7"}),
        json!(null),
    ] {
        assert!(arguments::<2>(&wrong).is_err(), "{wrong}");
    }
    assert_eq!(
        named_filter("app::none", []),
        Filter::named("app::none", json!([]))
    );
    let unencodable = std::collections::HashMap::from([((1, 2), true)]);
    assert_eq!(named_filter("app::f", [encode(&unencodable)]), !everyone);
}
