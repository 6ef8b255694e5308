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

/// The module `#[derive(StreamService)]` puts a struct's generated code in when no
/// `module =` is given: `Guide` -> `guide_proto`, distinct for each struct so that derives in
/// one module do not clash.
pub fn derive_module(struct_name: &str) -> String {
    format!("{}_proto", unraw(struct_name).to_snake_case())
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

/// The names tonic's generated client and server modules use without a path: from
/// `use tonic::codegen::*` (`Arc`, `Body`, `BoxFuture`, `StdError`, ...), the prelude (`Box`,
/// `Clone`, `Into`, `Option`, ...) and their own generic parameters (`T`, `B`, `D`, `F`).
/// tonic declares the service's trait (`<Service>`), server (`<Service>Server`) and client
/// (`<Service>Client`) in those modules, where an item of the same name would hide the one
/// tonic means (`inner: Arc<T>` naming the trait `Arc`). A test reads tonic's code and keeps
/// this list equal to what it uses.
pub const TONIC_UNQUALIFIED: &[&str] = &[
    "Arc",
    "B",
    "Body",
    "Box",
    "BoxFuture",
    "Bytes",
    "Clone",
    "CompressionEncoding",
    "Context",
    "D",
    "Default",
    "EnabledCompressionEncodings",
    "F",
    "GrpcMethod",
    "InterceptedService",
    "Into",
    "None",
    "Ok",
    "Option",
    "Poll",
    "Result",
    "SERVICE_NAME",
    "Some",
    "StdError",
    "T",
    "TryInto",
    "Uri",
];

/// The suffix of the struct tonic's server declares, in the block that serves an RPC, for
/// the RPC's proto name (`Go` gets `GoSvc`): inside that block it hides a service trait of
/// the same name.
pub const TONIC_RPC_SERVICE_SUFFIX: &str = "Svc";

/// tonic's generated client functions an RPC must not be named like (a test keeps this list
/// equal to tonic's client).
pub const TONIC_CLIENT_FNS: &[&str] = &[
    "accept_compressed",
    "connect",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "new",
    "send_compressed",
    "with_interceptor",
    "with_origin",
];

/// Functions of the generated stream client besides the RPC helpers (a test keeps this
/// list equal to the emitted client).
pub const STREAM_CLIENT_FNS: &[&str] = &[
    "connect",
    "connect_fleet",
    "connect_fleet_tls",
    "connect_tls",
    "from_channel",
    "with_compression",
    "with_timeout",
    "without_retries",
];

/// Why the Rust name `name` of a service whose RPCs have the proto names `rpcs` would not
/// compile in tonic's modules, if it would not.
fn tonic_clash(name: &str, rpcs: &[&str]) -> Option<String> {
    let plain = unraw(name);
    let tonic_items = [
        plain.to_owned(),
        format!("{plain}Server"),
        format!("{plain}Client"),
    ];
    if let Some(item) = tonic_items
        .iter()
        .find(|item| TONIC_UNQUALIFIED.contains(&item.as_str()))
    {
        return Some(format!(
            "tonic's generated code uses `{item}` without a path, which an item of that name \
             would hide"
        ));
    }
    rpcs.iter()
        .find(|rpc| format!("{rpc}{TONIC_RPC_SERVICE_SUFFIX}") == plain)
        .map(|rpc| {
            format!(
                "tonic's server names its struct serving RPC `{rpc}` `{plain}`, which would \
                 hide the service's trait"
            )
        })
}

/// The Rust name of a service (the trait of tonic's server), as prost-build and tonic-build
/// spell it ([`to_upper_camel_decided`]), unless tonic's code would not compile with it
/// ([`TONIC_UNQUALIFIED`], `<Rpc>Svc`): then with `_` appended until it would, and the
/// reason. `rpcs` are the proto names of its RPCs.
pub fn service_type(proto_name: &str, rpcs: &[&str]) -> (String, Option<String>) {
    let plain = to_upper_camel_decided(proto_name);
    let Some(reason) = tonic_clash(&plain, rpcs) else {
        return (plain, None);
    };
    let mut name = plain;
    while tonic_clash(&name, rpcs).is_some() {
        name = format!("{}_", unraw(&name));
    }
    (name, Some(reason))
}

/// Every name the generator gives a service and the items generated for it, decided
/// together, as serde_derive's `MultiName` holds the names of one field: the emitters,
/// the scaffold and the derive read them, never form them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNames {
    /// The Rust name of the service, tonic's trait ([`service_type`]).
    pub rust_name: String,
    /// tonic's module prefix: `<prefix>_client`, `<prefix>_server` ([`tonic_module`]).
    pub tonic_module: String,
    /// tonic's client module.
    pub tonic_client_module: String,
    /// tonic's server module.
    pub tonic_server_module: String,
    /// tonic's server struct: `<rust_name>Server`.
    pub tonic_server: String,
    /// tonic's client struct: `<rust_name>Client`.
    pub tonic_client: String,
    /// The module of the stream layer ([`stream_module`]).
    pub stream_module: String,
    /// The handler trait: `<rust_name>Handler`.
    pub handler_trait: String,
    /// The per-method configuration struct: `<rust_name>Config`.
    pub config_struct: String,
    /// The adapter serving a handler through tonic's trait: `<rust_name>Service`.
    pub adapter: String,
    /// The tuned, pattern-shaped client: `<rust_name>StreamClient`.
    pub stream_client: String,
    /// The struct of the handler skeleton: `<rust_name>Impl`.
    pub skeleton_struct: String,
    /// The stem of the skeleton's file: the snake-case name without `r#` (`service` for a
    /// name of underscores only).
    pub skeleton_stem: String,
}

impl ServiceNames {
    /// The names of the service `proto_name` whose RPCs have the proto names `rpcs`.
    pub fn new(proto_name: &str, rpcs: &[&str]) -> Self {
        let (rust_name, _) = service_type(proto_name, rpcs);
        let tonic_module = tonic_module(&rust_name);
        // The file stem and the user-facing names follow the proto's name: a `_` that only
        // keeps tonic's code compiling stays in tonic's modules.
        let plain = to_upper_camel_decided(proto_name);
        let skeleton_stem = match unraw(&to_snake(unraw(&plain))) {
            "" => "service".to_owned(),
            stem => stem.to_owned(),
        };
        ServiceNames {
            tonic_client_module: format!("{tonic_module}_client"),
            tonic_server_module: format!("{tonic_module}_server"),
            tonic_server: format!("{rust_name}Server"),
            tonic_client: format!("{rust_name}Client"),
            stream_module: stream_module(proto_name),
            handler_trait: compose(&plain, "Handler"),
            config_struct: compose(&plain, "Config"),
            adapter: compose(&plain, "Service"),
            stream_client: compose(&plain, "StreamClient"),
            skeleton_struct: compose(&plain, "Impl"),
            skeleton_stem,
            tonic_module,
            rust_name,
        }
    }
}

/// What [`method_names`] needs to know of an RPC.
#[derive(Clone, Copy, Debug)]
pub struct RpcShape<'a> {
    /// The RPC's proto name.
    pub proto_name: &'a str,
    /// The server sends a stream (tonic then declares an associated stream type).
    pub server_streams: bool,
    /// Client streaming with a chunk-shaped request: the client gets an upload helper.
    pub uploads_chunks: bool,
}

/// Every name the generator gives one RPC and its helpers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodNames {
    /// The RPC's Rust name everywhere (tonic's client and server, the handler, the config).
    pub rust_name: String,
    /// Set if `rust_name` differs from the plain snake-case name, saying why.
    pub renamed_because: Option<String>,
    /// The stream client's helper ([`client_helper`]).
    pub client_helper: String,
    /// Set if `client_helper` differs from `rust_name`, saying why.
    pub client_renamed_because: Option<String>,
    /// The constant holding the gRPC path.
    pub path_const: String,
    /// The client's chunk upload helper (`<name>_from`), for an RPC that uploads chunks.
    pub upload_helper: Option<String>,
    /// The constant of the upload helper's chunk size (`<PATH_CONST>_CHUNK_SIZE`).
    pub chunk_size_const: Option<String>,
    /// The client's helper with metadata (`<name>_with_metadata`).
    pub reply_helper: String,
    /// tonic's associated response stream type (`<ProtoName>Stream`), for server streams.
    pub stream_type: Option<String>,
}

/// The names of the RPCs of the service `service_full_name`, in order, each distinct from
/// the clients' own functions ([`TONIC_CLIENT_FNS`], [`STREAM_CLIENT_FNS`]) and from the
/// others'. The helpers are named after every RPC, so an RPC keeps its name over a helper.
pub fn method_names(service_full_name: &str, rpcs: &[RpcShape<'_>]) -> Vec<MethodNames> {
    let reserved = || TONIC_CLIENT_FNS.iter().chain(STREAM_CLIENT_FNS);
    let mut taken: std::collections::BTreeSet<String> =
        reserved().map(|s| (*s).to_owned()).collect();
    let mut consts = std::collections::BTreeSet::new();
    let mut names: Vec<MethodNames> = rpcs
        .iter()
        .map(|rpc| {
            let plain = to_snake_decided(rpc.proto_name);
            let rust_name = claim(plain.clone(), &mut taken);
            let renamed_because = (rust_name != plain).then(|| {
                if reserved().any(|f| *f == unraw(&plain)) {
                    format!("`{plain}` is a function of the generated clients")
                } else {
                    format!(
                        "`{plain}` is already the Rust name of another method of \
                         `{service_full_name}`"
                    )
                }
            });
            MethodNames {
                path_const: claim(to_shouty(&rust_name), &mut consts),
                client_helper: rust_name.clone(),
                client_renamed_because: None,
                upload_helper: None,
                chunk_size_const: None,
                reply_helper: String::new(),
                stream_type: rpc
                    .server_streams
                    .then(|| format!("{}Stream", rpc.proto_name)),
                rust_name,
                renamed_because,
            }
        })
        .collect();
    for (names, rpc) in names.iter_mut().zip(rpcs) {
        if let (helper, Some(trait_method)) = client_helper(&names.rust_name) {
            names.client_helper = claim(helper, &mut taken);
            names.client_renamed_because = Some(format!(
                "every type has `{trait_method}`, which method-call syntax \
                 (`client.{}(..)`) would call instead",
                unraw(&names.rust_name)
            ));
        }
        if rpc.uploads_chunks {
            names.upload_helper = Some(claim(compose(&names.rust_name, "_from"), &mut taken));
            names.chunk_size_const = Some(format!("{}_CHUNK_SIZE", names.path_const));
        }
        names.reply_helper = claim(compose(&names.rust_name, "_with_metadata"), &mut taken);
    }
    names
}

/// The file of a handler skeleton whose module is `module` ([`handler_modules`]).
pub fn skeleton_file(module: &str) -> String {
    format!("{module}.rs")
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
    fn the_derive_module_is_the_struct_in_snake_case_without_its_raw_prefix() {
        assert_eq!(derive_module("Guide"), "guide_proto");
        assert_eq!(derive_module("HTTPGateway"), "http_gateway_proto");
        assert_eq!(derive_module("r#Type"), "type_proto");
    }

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
    fn service_types_step_aside_from_tonic() {
        for (proto, rpcs, expected, renamed) in [
            ("Arc", &["Go"][..], "Arc_", true),
            ("clone", &[], "Clone_", true),
            ("box_future", &[], "BoxFuture_", true),
            ("t", &[], "T_", true),
            ("GoSvc", &["Go"], "GoSvc_", true),
            ("GoSvc", &["go"], "GoSvc", false),
            ("Files", &["Go"], "Files", false),
            ("Self", &[], "Self_", false),
            ("_", &[], "__", false),
        ] {
            let (name, reason) = service_type(proto, rpcs);
            assert_eq!(name, expected, "{proto}");
            assert_eq!(reason.is_some(), renamed, "{proto}");
        }
        let names = ServiceNames::new("Arc", &[]);
        assert_eq!(
            (
                names.tonic_server.as_str(),
                names.tonic_client_module.as_str(),
                names.handler_trait.as_str(),
                names.stream_client.as_str(),
                names.skeleton_stem.as_str(),
                names.stream_module.as_str(),
            ),
            (
                "Arc_Server",
                "arc__client",
                "ArcHandler",
                "ArcStreamClient",
                "arc",
                "arc_stream"
            )
        );
    }

    #[test]
    fn package_files() {
        assert_eq!(file_name(&[], false), "_.rs");
        let module = ["a".to_owned(), "r#type".to_owned()];
        assert_eq!(file_name(&module, false), "a.type.rs");
        assert_eq!(file_name(&module, true), "a.type.stream.rs");
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

#[cfg(test)]
mod tonic_probe {
    use std::collections::BTreeSet;
    use syn::visit_mut::VisitMut;

    /// The first segment of every relative path in tonic's code that names a type, trait or
    /// constructor (an upper-case first letter), `Self` aside.
    #[derive(Default)]
    struct Unqualified(BTreeSet<String>);

    impl VisitMut for Unqualified {
        fn visit_path_mut(&mut self, path: &mut syn::Path) {
            if path.leading_colon.is_none()
                && let Some(first) = path.segments.first()
            {
                let name = first.ident.to_string();
                if name.starts_with(|c: char| c.is_uppercase()) && name != "Self" {
                    self.0.insert(name);
                }
            }
            syn::visit_mut::visit_path_mut(self, path);
        }
    }

    fn method(name: &str, client: bool, server: bool) -> prost_build::Method {
        prost_build::Method {
            name: super::to_snake(name),
            proto_name: name.to_owned(),
            comments: Default::default(),
            input_type: "Req".to_owned(),
            output_type: "Res".to_owned(),
            input_proto_type: String::new(),
            output_proto_type: String::new(),
            options: Default::default(),
            client_streaming: client,
            server_streaming: server,
        }
    }

    /// tonic's client and server for a service `Probe` with one RPC of each pattern.
    pub fn tokens() -> proc_macro2::TokenStream {
        let service = prost_build::Service {
            name: "Probe".to_owned(),
            proto_name: "Probe".to_owned(),
            package: "probe".to_owned(),
            comments: Default::default(),
            methods: vec![
                method("One", false, false),
                method("Down", false, true),
                method("Up", true, false),
                method("Both", true, true),
            ],
            options: Default::default(),
        };
        crate::emit::messages::tonic_tokens(&service)
    }

    /// Every name tonic's code uses without a path, less the ones it declares for the probe.
    pub fn unqualified() -> BTreeSet<String> {
        let mut file: syn::File = syn::parse2(tokens()).expect("tonic's code parses");
        let mut names = Unqualified::default();
        names.visit_file_mut(&mut file);
        let declared = [
            "Probe",
            "ProbeServer",
            "ProbeClient",
            "OneSvc",
            "DownSvc",
            "UpSvc",
            "BothSvc",
        ];
        names.0.retain(|n| !declared.contains(&n.as_str()));
        names.0
    }

    /// The functions of the `impl` blocks of `ty` in `items`, less `rpcs`.
    pub fn functions(items: &[syn::Item], ty: &str, rpcs: &[&str]) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for item in items {
            match item {
                syn::Item::Mod(module) => {
                    let inner = module.content.as_ref().map_or(&[][..], |(_, i)| i);
                    found.extend(functions(inner, ty, rpcs));
                }
                syn::Item::Impl(block)
                    if block.trait_.is_none()
                        && matches!(&*block.self_ty, syn::Type::Path(p)
                            if p.path.segments.last().is_some_and(|s| s.ident == ty)) =>
                {
                    found.extend(block.items.iter().filter_map(|item| match item {
                        syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
        found.retain(|f| !rpcs.contains(&f.as_str()));
        found
    }

    #[test]
    fn tonic_names_are_the_ones_tonic_uses() {
        let listed: BTreeSet<String> = super::TONIC_UNQUALIFIED
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(unqualified(), listed);
        let file: syn::File = syn::parse2(tokens()).expect("tonic's code parses");
        let client = functions(&file.items, "ProbeClient", &["one", "down", "up", "both"]);
        let listed: BTreeSet<String> = super::TONIC_CLIENT_FNS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(client, listed);
    }

    #[test]
    fn stream_client_functions_are_the_listed_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("probe.proto"),
            "syntax = \"proto3\";\npackage probe;\nmessage Req {}\nmessage Res {}\n\
             service Probe {\n rpc One(Req) returns (Res);\n rpc Down(Req) returns (stream Res);\n\
             rpc Up(stream Req) returns (Res);\n rpc Both(stream Req) returns (stream Res);\n}\n",
        )
        .unwrap();
        let descriptors = crate::Descriptors::compile(&["probe.proto"], &[dir.path()]).unwrap();
        let params = crate::Params::default();
        let (model, _) = crate::model_of(&descriptors, &params).unwrap();
        let service = &model.packages[0].services[0];
        let helpers: Vec<&str> = service
            .methods
            .iter()
            .flat_map(|m| {
                [
                    Some(&m.client_helper),
                    m.reply_helper.as_ref(),
                    m.upload_helper.as_ref(),
                ]
            })
            .flatten()
            .map(String::as_str)
            .collect();
        let code = crate::generate_tokens(&descriptors, &params).unwrap();
        let file: syn::File = syn::parse2(code[0].tokens.clone()).unwrap();
        let listed: BTreeSet<String> = super::STREAM_CLIENT_FNS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            functions(&file.items, &service.stream_client, &helpers),
            listed
        );
    }
}
