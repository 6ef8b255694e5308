//! Every naming rule of the generator, in one place.
//!
//! Case conversion uses heck (as prost-build does) so that names we derive agree with the
//! names prost-build and tonic-build give the same proto elements. Keywords of editions
//! 2015 to 2024 become raw identifiers; the words that cannot be raw (`self`, `super`,
//! `crate`, `Self`, `extern`, `_`) get a trailing underscore; a leading digit gets a leading
//! underscore.
//!
//! Case conversion drops underscores, so it leaves nothing of a name made only of them (`_`,
//! `__`). prost-build would emit an empty identifier for such a name, so the elements it
//! names (packages, messages, enums, enum values, fields, oneofs) are refused by
//! `validate`; services and methods, which rust-stream names, keep their spelling
//! instead ([`to_snake_decided`], [`to_upper_camel_decided`]).
//!
//! The stream client's helper of an RPC named like a by-value method that every type has
//! (`into`, `try_into`, ...) gets [`CLIENT_HELPER_SUFFIX`] ([`client_helper`]), since
//! method-call syntax would reach the trait's method first.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Words that are keywords (strict or reserved) in some edition from 2015 to 2024 and can
/// be written as raw identifiers.
const RAW_KEYWORDS: &[&str] = &[
    // 2015 strict.
    "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct",
    "trait", "true", "type", "unsafe", "use", "where", "while", // 2018 strict.
    "dyn",   // 2015 reserved.
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", // 2018 reserved.
    "async", "await", "try", // 2024 reserved.
    "gen",
];

/// Words that cannot be raw identifiers.
const NON_RAW_KEYWORDS: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];

/// Makes `word` usable as a Rust identifier: `r#` for keywords, a trailing `_` for the
/// words that cannot be raw, a leading `_` before a digit.
pub fn sanitize(word: &str) -> String {
    if RAW_KEYWORDS.contains(&word) {
        format!("r#{word}")
    } else if NON_RAW_KEYWORDS.contains(&word) {
        format!("{word}_")
    } else if word.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{word}")
    } else {
        word.to_owned()
    }
}

/// The identifier without a `r#` prefix, for building derived names (`r#type` -> `type`).
pub fn unraw(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// A `snake_case` name (fields, methods, modules), as prost-build spells it.
pub fn to_snake(name: &str) -> String {
    sanitize(&name.to_snake_case())
}

/// An `UpperCamelCase` name (types, traits), as prost-build spells it.
pub fn to_upper_camel(name: &str) -> String {
    sanitize(&name.to_upper_camel_case())
}

/// `true` if case conversion leaves nothing of `name`: it has no letters or digits (`_`,
/// `__`, or empty).
pub fn is_unnamed(name: &str) -> bool {
    name.to_snake_case().is_empty()
}

/// The `snake_case` name of an element rust-stream names itself (methods): [`to_snake`], or
/// for a name made only of underscores, that name as written (`_` becomes `__`).
pub fn to_snake_decided(name: &str) -> String {
    if is_unnamed(name) {
        sanitize(name)
    } else {
        to_snake(name)
    }
}

/// The `UpperCamelCase` name of an element rust-stream names itself (services):
/// [`to_upper_camel`], or for a name made only of underscores, that name as written.
pub fn to_upper_camel_decided(name: &str) -> String {
    if is_unnamed(name) {
        sanitize(name)
    } else {
        to_upper_camel(name)
    }
}

/// prost-build's name for the variant of enum `enum_rust_name` (as [`to_upper_camel`] spells
/// it) made from value `value_name`: the enum's name is stripped as a prefix when what
/// follows starts a new word (`Color` + `COLOR_RED` is `Red`, `Foo` + `FOOBAR` is `Foobar`).
pub fn enum_variant(enum_rust_name: &str, value_name: &str) -> String {
    let name = to_upper_camel(value_name);
    let stripped = name
        .strip_prefix(enum_rust_name)
        .filter(|rest| rest.starts_with(char::is_uppercase))
        .unwrap_or(&name);
    sanitize(stripped)
}

/// A `SHOUTY_SNAKE_CASE` name for constants. Never a keyword, never `_`.
pub fn to_shouty(name: &str) -> String {
    let shouty = unraw(name).trim_end_matches('_').to_shouty_snake_case();
    if shouty.is_empty() {
        // Only underscores: keep them, as a name (`_` alone is not one).
        sanitize(unraw(name))
    } else if shouty.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{shouty}")
    } else {
        shouty
    }
}

/// tonic-build's module naming for `<service>_client` / `<service>_server`, reproduced
/// exactly (it is not heck's snake case: `HTTPApi` becomes `h_t_t_p_api`), so generated
/// code can name tonic's modules.
pub fn tonic_module(service_rust_name: &str) -> String {
    let mut s = String::new();
    let mut it = service_rust_name.chars().peekable();
    while let Some(x) = it.next() {
        s.push(x.to_ascii_lowercase());
        if let Some(y) = it.peek()
            && y.is_uppercase()
        {
            s.push('_');
        }
    }
    s
}

/// The module of a service's stream layer: `<service_snake>_stream`.
pub fn stream_module(service_proto_name: &str) -> String {
    // A suffix makes it never a keyword; heck's snake case is what users expect to type.
    let snake = service_proto_name.to_snake_case();
    if snake.is_empty() {
        format!("{service_proto_name}_stream")
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{snake}_stream")
    } else {
        format!("{snake}_stream")
    }
}

/// `base` + `suffix` as one identifier, dropping the escape of `base` (`r#type` + `_from`
/// is `type_from`, `Self_` + `Handler` is `SelfHandler`).
pub fn compose(base: &str, suffix: &str) -> String {
    let base = unraw(base);
    // The `_` that keeps a word from being a keyword goes; underscores that are the whole
    // name stay.
    let trimmed = base.trim_end_matches('_');
    let base = if trimmed.is_empty() { base } else { trimmed };
    sanitize(&format!("{base}{suffix}"))
}

/// By-value methods of traits that every type implements and that code calling a client has
/// in scope: the prelude's (editions 2015 to 2024), and the ones a tonic or tracing user
/// imports. Method-call syntax tries the receiver by value before by reference, so
/// `client.into(request)` calls `Into::into` however the client's own `into(&self, ..)` is
/// written; helpers named like these are renamed by [`client_helper`]. Trait methods taking
/// `&self` or `&mut self` (`clone`, `as_ref`, `hash`, `clone_from`, `borrow_mut`, ...) need
/// no renaming: the client's helpers take `&self`, and inherent methods win at that step.
const BY_VALUE_TRAIT_METHODS: &[(&str, &str)] = &[
    ("into", "core::convert::Into::into"),
    ("try_into", "core::convert::TryInto::try_into"),
    ("into_request", "tonic::IntoRequest::into_request"),
    ("instrument", "tracing::Instrument::instrument"),
    ("in_current_span", "tracing::Instrument::in_current_span"),
    (
        "with_subscriber",
        "tracing::instrument::WithSubscriber::with_subscriber",
    ),
    (
        "with_current_subscriber",
        "tracing::instrument::WithSubscriber::with_current_subscriber",
    ),
];

/// What the stream client's helpers of an RPC are renamed with when [`client_helper`] must.
pub const CLIENT_HELPER_SUFFIX: &str = "_rpc";

/// The stream client's name for the helper of an RPC whose Rust name is `rust_name`: that
/// name, or for a by-value trait method every type has (`into`, `try_into`, ...), that name
/// with [`CLIENT_HELPER_SUFFIX`] (`into_rpc`), with the trait method that would be called
/// instead (`core::convert::Into::into`).
pub fn client_helper(rust_name: &str) -> (String, Option<&'static str>) {
    let plain = unraw(rust_name);
    match BY_VALUE_TRAIT_METHODS
        .iter()
        .find(|(name, _)| *name == plain)
    {
        Some((_, method)) => (compose(rust_name, CLIENT_HELPER_SUFFIX), Some(method)),
        None => (rust_name.to_owned(), None),
    }
}

/// `true` if `s` is a plain identifier (letters, digits, `_`, not starting with a digit).
pub fn is_proto_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Makes `ident` unique against `taken` by appending `_` until it is free, and records it.
/// Deterministic for a deterministic order of calls.
pub fn claim(ident: String, taken: &mut std::collections::BTreeSet<String>) -> String {
    let mut ident = ident;
    while taken.contains(unraw(&ident)) {
        ident = format!("{}_", unraw(&ident));
    }
    taken.insert(unraw(&ident).to_owned());
    ident
}

/// The name of the struct holding one handler per service: `Handlers`, unless a type at
/// the root of the module tree (`taken`: a message of a file without a package, a generic
/// parameter named after a service) already has it.
pub fn handlers_struct(taken: &[String]) -> String {
    ["Handlers", "ServiceHandlers", "AllHandlers"]
        .into_iter()
        .map(str::to_owned)
        .chain((2..).map(|n| format!("Handlers{n}")))
        .find(|name| !taken.contains(name))
        .unwrap_or_default()
}

/// Module names a handler never gets: module files a source directory may already hold, and
/// names Windows reserves for devices (the module is also a file).
const RESERVED_MODULES: &[&str] = &[
    "mod", "lib", "main", "build", "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4",
    "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7",
    "lpt8", "lpt9",
];

/// A distinct name per service for its handler: the module (and file) of its skeleton and
/// its field in the generated `Handlers`. `services` holds each service's package module
/// path and its skeleton stem, in model order; the result is parallel to it.
///
/// A stem no other service of the run shares stays as it is; the others get their package
/// prefixed (`a_v1_event`). Any name still taken (a prefixed name equal to another
/// service's, a reserved module name) gets `_2`, `_3`, ... in model order. Unprefixed names
/// are claimed first, so a service added elsewhere never renames one that had no clash.
pub fn handler_modules(services: &[(&[String], &str)]) -> Vec<String> {
    let mut uses = std::collections::BTreeMap::<&str, usize>::new();
    for (_, stem) in services {
        *uses.entry(stem).or_default() += 1;
    }
    let mut taken: std::collections::BTreeSet<String> =
        RESERVED_MODULES.iter().map(|s| (*s).to_owned()).collect();
    let mut names = vec![String::new(); services.len()];
    let (unique, shared): (Vec<usize>, Vec<usize>) =
        (0..services.len()).partition(|&i| uses[services[i].1] == 1);
    for i in unique {
        names[i] = numbered(services[i].1.to_owned(), &mut taken);
    }
    for i in shared {
        let (package, stem) = services[i];
        let prefixed = if package.is_empty() {
            stem.to_owned()
        } else {
            let parts: Vec<&str> = package.iter().map(|m| unraw(m)).collect();
            format!("{}_{stem}", parts.join("_"))
        };
        names[i] = numbered(prefixed, &mut taken);
    }
    names
}

/// `stem`, or `stem_2`, `stem_3`, ... if taken; recorded as taken.
fn numbered(stem: String, taken: &mut std::collections::BTreeSet<String>) -> String {
    let mut name = stem.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{stem}_{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// prost-build's file naming: `a.b.rs`, `_.rs` without a package; `.stream.rs` when only
/// the stream layer is emitted.
pub fn file_name(module: &[String], stream_only: bool) -> String {
    // prost's naming: the package as written in the proto, so `r#` escapes stay out of
    // file names.
    let stem = if module.is_empty() {
        "_".to_owned()
    } else {
        let segments: Vec<&str> = module.iter().map(|m| unraw(m)).collect();
        segments.join(".")
    };
    if stream_only {
        format!("{stem}.stream.rs")
    } else {
        format!("{stem}.rs")
    }
}

/// prost-build's module path for a package.
pub fn module_of(package: &str) -> Vec<String> {
    package
        .split('.')
        .filter(|s| !s.is_empty())
        .map(to_snake)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_table() {
        for (input, expected) in [
            ("GetUser", "get_user"),
            ("getUser", "get_user"),
            ("get_user", "get_user"),
            ("HTTPRequest", "http_request"),
            ("Type", "r#type"),
            ("type", "r#type"),
            ("Self", "self_"),
            ("self", "self_"),
            ("super", "super_"),
            ("crate", "crate_"),
            ("extern", "extern_"),
            ("async", "r#async"),
            ("Await", "r#await"),
            ("gen", "r#gen"),
            ("try", "r#try"),
            ("dyn", "r#dyn"),
            ("yield", "r#yield"),
            ("Connect", "connect"),
            ("V2", "v2"),
        ] {
            assert_eq!(to_snake(input), expected, "{input}");
        }
    }

    #[test]
    fn upper_camel_table() {
        for (input, expected) in [
            ("user_request", "UserRequest"),
            ("UserRequest", "UserRequest"),
            ("self", "Self_"),
            ("Self", "Self_"),
            ("HTTPApi", "HttpApi"),
            ("result", "Result"),
        ] {
            assert_eq!(to_upper_camel(input), expected, "{input}");
        }
    }

    #[test]
    fn sanitize_table() {
        for (input, expected) in [
            ("match", "r#match"),
            ("_", "__"),
            ("1abc", "_1abc"),
            ("plain", "plain"),
            ("Self", "Self_"),
        ] {
            assert_eq!(sanitize(input), expected, "{input}");
        }
    }

    #[test]
    fn shouty_table() {
        for (input, expected) in [
            ("get_user", "GET_USER"),
            ("r#type", "TYPE"),
            ("self_", "SELF"),
            ("connect_", "CONNECT"),
        ] {
            assert_eq!(to_shouty(input), expected, "{input}");
        }
    }

    #[test]
    fn tonic_module_table() {
        for (input, expected) in [
            ("StreamingExamples", "streaming_examples"),
            ("HttpApi", "http_api"),
            ("Self_", "self_"),
            ("A", "a"),
        ] {
            assert_eq!(tonic_module(input), expected, "{input}");
        }
    }

    #[test]
    fn compose_table() {
        for (base, suffix, expected) in [
            ("Self_", "Handler", "SelfHandler"),
            ("self_", "_from", "self_from"),
            ("r#type", "_from", "type_from"),
            ("Files", "Service", "FilesService"),
            ("__", "Handler", "__Handler"),
            ("__", "_from", "___from"),
            ("_1", "Handler", "_1Handler"),
        ] {
            assert_eq!(compose(base, suffix), expected, "{base}{suffix}");
        }
    }

    /// Names made only of underscores and their neighbours: every name rust-stream decides
    /// is an identifier; the ones prost-build would leave empty are flagged for refusal.
    #[test]
    fn underscore_names_table() {
        for (input, snake, camel, shouty, stream, unnamed) in [
            ("_", "__", "__", "__", "__stream", true),
            ("__", "__", "__", "__", "___stream", true),
            ("___", "___", "___", "___", "____stream", true),
            ("_1", "_1", "_1", "_1", "_1_stream", false),
            ("a__b", "a_b", "AB", "A_B", "a_b_stream", false),
            ("a_", "a", "A", "A", "a_stream", false),
            ("_a", "a", "A", "A", "a_stream", false),
            ("A_B", "a_b", "AB", "A_B", "a_b_stream", false),
            ("self_", "self_", "Self_", "SELF", "self_stream", false),
        ] {
            assert_eq!(to_snake_decided(input), snake, "{input}");
            assert_eq!(to_upper_camel_decided(input), camel, "{input}");
            assert_eq!(to_shouty(snake), shouty, "{input}");
            assert_eq!(stream_module(input), stream, "{input}");
            assert_eq!(is_unnamed(input), unnamed, "{input}");
            assert_eq!(to_snake(input).is_empty(), unnamed, "{input}");
            assert_eq!(to_upper_camel(input).is_empty(), unnamed, "{input}");
            for name in [snake, camel, shouty, stream] {
                assert!(
                    syn::parse_str::<syn::Ident>(name).is_ok(),
                    "{input}: {name}"
                );
            }
        }
    }

    #[test]
    fn enum_variant_table() {
        for (enum_name, value, expected) in [
            ("E", "E_A", "A"),
            ("E", "A", "A"),
            ("Color", "COLOR_RED", "Red"),
            ("Foo", "FOOBAR", "Foobar"),
            ("Foo", "FOO", "Foo"),
            ("E", "E_SELF", "Self_"),
            ("E", "E_1", "E1"),
            ("E", "_", ""),
        ] {
            assert_eq!(
                enum_variant(enum_name, value),
                expected,
                "{enum_name}.{value}"
            );
        }
    }

    #[test]
    fn client_helper_table() {
        for (rust_name, expected, renamed) in [
            ("into", "into_rpc", true),
            ("try_into", "try_into_rpc", true),
            ("into_request", "into_request_rpc", true),
            ("instrument", "instrument_rpc", true),
            ("clone", "clone", false),
            ("clone_from", "clone_from", false),
            ("as_ref", "as_ref", false),
            ("into_inner", "into_inner", false),
            ("into_", "into_", false),
            ("r#type", "r#type", false),
            ("get_user", "get_user", false),
        ] {
            let (name, reason) = client_helper(rust_name);
            assert_eq!(name, expected, "{rust_name}");
            assert_eq!(reason.is_some(), renamed, "{rust_name}");
        }
    }

    #[test]
    fn claim_makes_names_unique() {
        let mut taken = std::collections::BTreeSet::new();
        taken.insert("connect".to_owned());
        assert_eq!(claim("connect".into(), &mut taken), "connect_");
        assert_eq!(claim("connect".into(), &mut taken), "connect__");
        assert_eq!(claim("r#type".into(), &mut taken), "r#type");
        assert_eq!(claim("r#type".into(), &mut taken), "type_");
    }
}
