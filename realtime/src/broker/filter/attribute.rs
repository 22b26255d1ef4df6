//! What the code `#[filter]` generates calls: each argument is encoded and decoded on its own,
//! at a call spanned at its type, so a type that cannot travel is reported there, naming it.
//! The arguments travel as a JSON array, in the order of the function's parameters.

use serde::Serialize;
use serde::de::{DeserializeOwned, Error as _};
use serde_json::Value;

use super::{Filter, everyone};

/// One argument of a `#[filter]` constructor, encoded.
///
/// # Errors
///
/// When JSON cannot hold the argument (a map whose keys are not strings).
pub fn encode<T: Serialize>(arg: T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(arg)
}

/// The filter a `#[filter]` constructor returns: the function's name with its encoded
/// arguments. An argument JSON cannot hold (a map with non-string keys) is logged, and the
/// filter then reaches nobody: building a filter never panics, and never widens it.
#[must_use]
pub fn named_filter<const N: usize>(
    name: &'static str,
    args: [Result<Value, serde_json::Error>; N],
) -> Filter {
    match args.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(args) => Filter::named(name, Value::Array(args)),
        Err(error) => {
            tracing::error!(
                filter = name, %error,
                "a #[filter] function's arguments cannot be encoded as JSON; the filter reaches nobody"
            );
            !everyone
        }
    }
}

/// The `N` encoded arguments of a named filter, borrowed: decoding them clones nothing.
///
/// # Errors
///
/// When `args` is not an array of `N` values (a node running another version of the function).
pub fn arguments<const N: usize>(args: &Value) -> Result<&[Value; N], serde_json::Error> {
    let Value::Array(args) = args else {
        return Err(serde_json::Error::custom(format_args!(
            "a filter's arguments are an array of {N}, not {args}"
        )));
    };
    <&[Value; N]>::try_from(args.as_slice())
        .map_err(|_| serde_json::Error::invalid_length(args.len(), &format!("{N}").as_str()))
}

/// One argument, decoded once per send: it is then shared by the checks of every client, on
/// the threads sends run on.
///
/// # Errors
///
/// When `arg` does not fit the parameter's type.
pub fn decode<T: DeserializeOwned + Send + Sync + 'static>(
    arg: &Value,
) -> Result<T, serde_json::Error> {
    T::deserialize(arg)
}

/// What a `#[filter]` function returns: whether the client receives the message.
#[diagnostic::on_unimplemented(
    message = "a `#[filter]` function returns `bool`, not `{Self}`",
    label = "whether the client receives the message: `bool`"
)]
pub trait Accepted {
    /// The answer.
    fn accepted(self) -> bool;
}

impl Accepted for bool {
    fn accepted(self) -> bool {
        self
    }
}

/// The check's answer, through [`Accepted`], so that a function returning anything else is
/// reported at its return type.
pub fn accepted(answer: impl Accepted) -> bool {
    answer.accepted()
}
