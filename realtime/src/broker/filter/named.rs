//! The functions declared with `#[filter]`: every node of a program has the same ones, so a
//! filter names one by its path and carries only its arguments.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::broker::client::Client;

/// What a `#[filter]` function becomes once its arguments are decoded: the check of one client.
#[doc(hidden)]
pub type Predicate = Box<dyn Fn(&Client) -> bool + Send + Sync>;

/// One `#[filter]` function, as the attribute registers it. Not for use by hand.
#[doc(hidden)]
#[derive(Debug)]
pub struct NamedFilter {
    name: &'static str,
    prepare: fn(&Value) -> Result<Predicate, serde_json::Error>,
}

impl NamedFilter {
    /// An entry for `inventory::submit!`: `name` is the function's path, `prepare` decodes
    /// the arguments once and returns the check to run on each client.
    #[must_use]
    pub const fn new(
        name: &'static str,
        prepare: fn(&Value) -> Result<Predicate, serde_json::Error>,
    ) -> Self {
        Self { name, prepare }
    }
}

inventory::collect!(NamedFilter);

/// Each name's function, or `None` when two functions have the same path (two `#[filter] fn`
/// of one name in different function bodies of a module): which one a filter meant cannot be
/// told, so neither runs.
static BY_NAME: LazyLock<HashMap<&'static str, Option<&'static NamedFilter>>> =
    LazyLock::new(|| {
        let mut by_name = HashMap::new();
        for entry in inventory::iter::<NamedFilter> {
            by_name
                .entry(entry.name)
                .and_modify(|known: &mut Option<_>| *known = None)
                .or_insert(Some(entry));
        }
        by_name
    });

/// Why a named filter could not be made ready: it then accepts nobody.
#[derive(Debug)]
pub(super) enum Unusable {
    /// No function of that name in this program (a node running another version).
    Unknown,
    /// Two functions of that name in this program.
    Ambiguous,
    /// The arguments do not fit the function's parameters.
    Arguments(serde_json::Error),
}

/// The check of the function called `name` with `args`.
pub(super) fn prepare(name: &str, args: &Value) -> Result<Predicate, Unusable> {
    let entry = BY_NAME
        .get(name)
        .ok_or(Unusable::Unknown)?
        .ok_or(Unusable::Ambiguous)?;
    (entry.prepare)(args).map_err(Unusable::Arguments)
}
