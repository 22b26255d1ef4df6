//! `#[filter]`: parse the arguments and the function, check them into a [`FilterFn`], expand
//! it into the constructor of a portable filter.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, ItemFn, Type, Visibility};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let filter = parse::parse(args, item.clone()).and_then(check::check);
    crate::errors::or_item(item, filter.map(expand::expand))
}

/// A checked `#[filter]` function: everything the expansion needs, decided.
pub(crate) struct FilterFn {
    /// The path of the runtime crate, as tokens to put in front of `::Item`.
    pub(crate) krate: TokenStream,
    /// The user's attributes (docs included), put on the constructor.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// The user's name, which the constructor takes.
    pub(crate) ident: Ident,
    /// The user's function, renamed and without attributes or visibility: the check that runs
    /// on each client. Its tokens keep their spans, so errors in the body point at it.
    pub(crate) check: ItemFn,
    /// The first parameter's type: a client of another type is reported there.
    pub(crate) client: Type,
    /// The return type: anything but `bool` is reported there.
    pub(crate) output: Type,
    /// The parameters after the first: the arguments that travel.
    pub(crate) args: Vec<Arg>,
}

/// One argument of the filter, as the constructor takes it and as it travels.
pub(crate) struct Arg {
    /// The constructor's parameter: the user's name, or `__argN` for a destructuring pattern.
    pub(crate) name: Ident,
    /// The user's type, which the constructor takes.
    pub(crate) ty: Type,
    /// What it travels and is decoded as: `String` for `&str`, `Vec<T>` for `&[T]`, `T` for
    /// `&T` and for `T`.
    pub(crate) owned: Type,
    /// How the check receives the decoded value: borrowed (`&owned`) or cloned (an owned
    /// parameter; the check may run on many clients).
    pub(crate) pass: Pass,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    Borrowed,
    Cloned,
}
