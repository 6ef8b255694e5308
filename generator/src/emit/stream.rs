//! The stream layer of one service: handler trait, per-method configuration, the adapter to
//! tonic's server trait, server and client constructors with the service's tuning, and the
//! pattern-shaped client helpers.

use crate::emit::pattern::{
    Context, Spelling, TONIC_CLIENT_ALIAS, breaks_self_convention, capitalize, default_body,
    emitter, handler_signature, self_convention_allow, usize_literal,
};
use crate::emit::{doc_lines, ident, rust_type};
use crate::error::{DiagnosticKind, Error};
use crate::model::{Idempotency, Method, Package, Pattern, Retry, RetrySource, Service, TypeRef};
use crate::options::{CompressionOption, MethodOptions, OptionValue, Setting, TuningSpec};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// Paths generated code uses, built from the `runtime_path` parameter.
pub struct Paths {
    /// `<runtime>::codegen`.
    pub codegen: TokenStream,
}

impl Paths {
    /// Paths for the runtime at `runtime_path` (`::rust_stream`).
    pub fn new(runtime_path: &str) -> Result<Paths, Error> {
        let runtime: syn::Path = syn::parse_str(runtime_path).map_err(|_| {
            Error::new(
                DiagnosticKind::InvalidOption,
                format!("`{runtime_path}` is not a Rust path"),
            )
        })?;
        Ok(Paths {
            codegen: quote!(#runtime::codegen),
        })
    }
}

/// Emits `impl Chunk` for every chunk-shaped message of the package.
pub fn chunk_impls(package: &Package, paths: &Paths) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let mut out = TokenStream::new();
    for chunk in &package.chunks {
        let Some(field) = &chunk.chunk else { continue };
        let ty = rust_type(&chunk.rust_path, false)?;
        let field = ident(&field.rust_name)?;
        let doc = format!(
            " `{}` carries one `bytes` field, so it streams as chunks of bytes.",
            chunk.proto_name.trim_start_matches('.')
        );
        out.extend(quote! {
            #[doc = #doc]
            impl #rt::Chunk for #ty {
                fn from_bytes(data: #rt::Bytes) -> Self {
                    Self { #field: ::core::convert::Into::into(data) }
                }
                fn into_bytes(self) -> #rt::Bytes {
                    ::core::convert::Into::into(self.#field)
                }
            }
        });
    }
    Ok(out)
}

/// The service's `Tuning`: its preset, with each override the protos or the parameters set
/// (each option sets the `Tuning` field of its name).
fn tuning_expr(tuning: &TuningSpec, rt: &TokenStream) -> TokenStream {
    let preset = format_ident!("{}", tuning.preset.to_uppercase());
    let overrides = tuning.overrides();
    let fields: Vec<TokenStream> = overrides
        .set_values()
        .filter_map(|(name, value)| {
            let OptionValue::Number(n) = value else {
                return None;
            };
            let field = format_ident!("{name}");
            let n = Literal::u64_unsuffixed(n);
            Some(quote!(#field: #n))
        })
        .collect();
    if fields.is_empty() {
        quote!(#rt::Tuning::#preset)
    } else {
        quote!(#rt::Tuning { #(#fields,)* ..#rt::Tuning::#preset })
    }
}

/// The method's `CallConfig`: the runtime's `DEFAULT` with each option the protos or the
/// parameters set, one runtime setter per [`Setting`].
fn call_config_expr(method: &Method, rt: &TokenStream) -> TokenStream {
    let options = &method.options;
    let mut expr = quote!(#rt::CallConfig::DEFAULT);
    if options.is_default() {
        return expr;
    }
    if let Some(buffer) = options.buffer {
        let buffer = usize_literal(buffer as usize);
        expr = quote!(#expr.with_buffer(#buffer));
    }
    if let Some(limits) = limits_expr(options, rt) {
        expr = quote!(#expr.with_limits(#limits));
    }
    if let Some(ms) = options.deadline_ms {
        let v = millis(ms);
        expr = quote!(#expr.with_default_deadline(#v));
    }
    if let Some(encoding) = options.encoding() {
        let encoding = encoding_expr(encoding, rt);
        expr = quote! {
            #expr.with_compression(#rt::Compression {
                accept: &[#encoding],
                send: ::core::option::Option::Some(#encoding),
            })
        };
    }
    expr
}

/// The method's `InboundLimits`, if an option sets one: the fields set, and the runtime's
/// `DEFAULT` for the rest unless every limit is set.
fn limits_expr(options: &MethodOptions, rt: &TokenStream) -> Option<TokenStream> {
    let fields: Vec<TokenStream> = options
        .set_in(Setting::Limit)
        .filter_map(|(name, value)| {
            let OptionValue::Number(n) = value else {
                return None;
            };
            // `idle_timeout_ms` sets the `Duration` `idle_timeout`; counts keep their name.
            Some(match name.strip_suffix("_ms") {
                Some(field) => {
                    let field = format_ident!("{field}");
                    let v = millis(n);
                    quote!(#field: #v)
                }
                None => {
                    let field = format_ident!("{name}");
                    let v = optional_u64(n);
                    quote!(#field: #v)
                }
            })
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    let every_limit = MethodOptions::OPTIONS
        .iter()
        .filter(|option| option.setting == Setting::Limit)
        .count();
    let rest = (fields.len() < every_limit).then(|| quote!(..#rt::InboundLimits::DEFAULT));
    Some(quote!(#rt::InboundLimits { #(#fields,)* #rest }))
}

/// An optional count of `n`; 0 means none.
fn optional_u64(n: u64) -> TokenStream {
    if n == 0 {
        quote!(::core::option::Option::None)
    } else {
        let n = Literal::u64_unsuffixed(n);
        quote!(::core::option::Option::Some(#n))
    }
}

/// The runtime's `Encoding` for a compression setting other than none.
fn encoding_expr(encoding: CompressionOption, rt: &TokenStream) -> TokenStream {
    match encoding {
        CompressionOption::Zstd => quote!(#rt::Encoding::Zstd),
        _ => quote!(#rt::Encoding::Gzip),
    }
}

/// tonic's server settings for the encodings `service`'s methods use: each accepted on
/// requests and used for responses the client accepts; each method narrows them to its own.
fn server_compression(service: &Service, rt: &TokenStream) -> TokenStream {
    let mut encodings: Vec<CompressionOption> = service
        .methods
        .iter()
        .filter_map(|m| m.options.encoding())
        .collect();
    encodings.sort();
    encodings.dedup();
    encodings
        .into_iter()
        .map(|encoding| {
            let encoding = encoding_expr(encoding, rt);
            quote! {
                .accept_compressed(#encoding.tonic())
                .send_compressed(#encoding.tonic())
            }
        })
        .collect()
}

/// An optional duration of `ms` milliseconds; 0 means none.
fn millis(ms: u64) -> TokenStream {
    if ms == 0 {
        quote!(::core::option::Option::None)
    } else {
        let ms = Literal::u64_unsuffixed(ms);
        quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms)))
    }
}

/// The method's `Option<RetryPolicy>`: `None` unless the proto gives a policy that retries;
/// the fields the proto sets, the rest `RetryPolicy::IDEMPOTENT`'s.
fn retry_expr(retry: Option<&Retry>, rt: &TokenStream) -> TokenStream {
    let Some(policy) = retry.filter(|r| r.retries()).map(Retry::policy) else {
        return quote!(::core::option::Option::None);
    };
    let duration = |ms: u64| {
        let ms = Literal::u64_unsuffixed(ms);
        quote!(::core::time::Duration::from_millis(#ms))
    };
    let mut fields = Vec::new();
    if let Some(n) = policy.max_attempts {
        let n = Literal::u32_unsuffixed(n);
        fields.push(quote!(max_attempts: #n));
    }
    if let Some(ms) = policy.initial_backoff_ms {
        let v = duration(ms);
        fields.push(quote!(initial_backoff: #v));
    }
    if let Some(ms) = policy.max_backoff_ms {
        let v = duration(ms);
        fields.push(quote!(max_backoff: #v));
    }
    if let Some(m) = policy.backoff_multiplier {
        let m = Literal::f64_unsuffixed(m);
        fields.push(quote!(backoff_multiplier: #m));
    }
    if let Some(codes) = policy.code_variants() {
        let codes = codes.iter().map(|c| format_ident!("{c}"));
        fields.push(quote!(retryable_codes: &[#(#rt::tonic::Code::#codes),*]));
    }
    // Every field of the runtime's policy set: no `..` (clippy's `needless_update`).
    const POLICY_FIELDS: usize = 5;
    let policy = if fields.is_empty() {
        quote!(#rt::RetryPolicy::IDEMPOTENT)
    } else if fields.len() == POLICY_FIELDS {
        quote!(#rt::RetryPolicy { #(#fields,)* })
    } else {
        quote!(#rt::RetryPolicy { #(#fields,)* ..#rt::RetryPolicy::IDEMPOTENT })
    };
    quote!(::core::option::Option::Some(#policy))
}

/// The docs of a method's retry constant: what its calls retry, and which part of the
/// proto says so.
fn retry_doc(method: &Method) -> String {
    let proto = &method.proto_name;
    let Some(retry) = &method.retry else {
        return format!(
            " `{proto}`: none, as the method is not declared idempotent: only calls no server saw are retried."
        );
    };
    let said_by = match retry.source() {
        RetrySource::Method => "the proto's `(rust_stream.method).retry`",
        RetrySource::Service => "the service's `(rust_stream.service).methods.retry`",
        RetrySource::Idempotency => match method.idempotency {
            Idempotency::Idempotent => "the proto says `idempotency_level = IDEMPOTENT`",
            _ => "the proto says `idempotency_level = NO_SIDE_EFFECTS`",
        },
    };
    if !retry.retries() {
        return format!(
            " `{proto}`: none, as {said_by} sets `max_attempts: 1`: only calls no server saw are retried."
        );
    }
    if retry.source() == RetrySource::Idempotency {
        format!(" `{proto}`: `RetryPolicy::IDEMPOTENT`, as {said_by}.")
    } else {
        format!(" `{proto}`: the policy {said_by} gives.")
    }
}

fn method_ty(type_ref: &TypeRef) -> Result<TokenStream, Error> {
    rust_type(&type_ref.rust_path, true)
}

/// One method's docs on the handler trait: the proto's comments, then its pattern, path and
/// declared idempotency, and why it was renamed; what its pattern means is said once, on the
/// trait.
fn handler_docs(method: &Method) -> Vec<TokenStream> {
    let mut docs = doc_lines(&method.comments);
    if !docs.is_empty() {
        docs.push(quote!(#[doc = ""]));
    }
    let label = capitalize(method.pattern.label());
    let mut facts = format!(" {label}: `{}`", method.grpc_path);
    match method.idempotency {
        Idempotency::Unknown => {}
        Idempotency::NoSideEffects => facts.push_str("; declared without side effects"),
        Idempotency::Idempotent => facts.push_str("; declared idempotent"),
    }
    facts.push('.');
    docs.push(quote!(#[doc = #facts]));
    if let Some(reason) = &method.renamed_because {
        let note = format!(
            " Named `{}` because {reason}.",
            crate::ident::unraw(&method.rust_name)
        );
        docs.push(quote!(#[doc = ""]));
        docs.push(quote!(#[doc = #note]));
    }
    docs
}

/// The lints tonic's client and server modules of `service` must allow (module name,
/// attribute): tonic names associated types and structs after the proto's spelling
/// (`get_userStream`, `Self_Client`) and keeps the RPC names; those are tonic's API, so they
/// are allowed where they occur rather than renamed.
pub fn tonic_lints(service: &Service) -> [(String, Option<syn::Attribute>); 2] {
    let methods = &service.methods;
    // The inner attribute covers the module's own name too (`self__client` for `Self_`).
    let snake =
        |module: &str| is_snake_case(module) && methods.iter().all(|m| is_snake_case(&m.rust_name));
    let client = [
        (
            !is_camel_case(&service.tonic_client),
            quote!(non_camel_case_types),
        ),
        (!snake(&service.tonic_client_module), quote!(non_snake_case)),
    ];
    let server = [
        (
            !is_camel_case(&service.tonic_trait)
                || !is_camel_case(&service.tonic_server)
                || methods
                    .iter()
                    .filter_map(|m| m.stream_type.as_deref())
                    .any(|t| !is_camel_case(t)),
            quote!(non_camel_case_types),
        ),
        (!snake(&service.tonic_server_module), quote!(non_snake_case)),
        (
            methods.iter().any(|m| breaks_self_convention(&m.rust_name)),
            quote!(clippy::wrong_self_convention),
        ),
        // Without RPCs, tonic's router is a `match` with only its fallback arm.
        (methods.is_empty(), quote!(clippy::match_single_binding)),
    ];
    let allow = |lints: &[(bool, TokenStream)]| {
        let lints: Vec<&TokenStream> = lints.iter().filter(|(on, _)| *on).map(|(_, l)| l).collect();
        (!lints.is_empty()).then(|| syn::parse_quote!(#![allow(#(#lints),*)]))
    };
    [
        (service.tonic_client_module.clone(), allow(&client)),
        (service.tonic_server_module.clone(), allow(&server)),
    ]
}

/// rustc's `non_camel_case_types` rule: no lower-case start, no `__`, no `_` next to a
/// letter with case.
fn is_camel_case(name: &str) -> bool {
    let name = crate::ident::unraw(name).trim_matches('_');
    let chars: Vec<char> = name.chars().collect();
    let cased = |c: char| c.is_lowercase() || c.is_uppercase();
    !chars.first().is_some_and(|c| c.is_lowercase())
        && !name.contains("__")
        && !chars
            .windows(2)
            .any(|w| (cased(w[0]) && w[1] == '_') || (cased(w[1]) && w[0] == '_'))
}

/// rustc's `non_snake_case` rule: no upper case, no `__` inside.
fn is_snake_case(name: &str) -> bool {
    let name = crate::ident::unraw(name).trim_matches('_');
    !name.contains("__") && !name.chars().any(char::is_uppercase)
}

/// The patterns `service` uses, in declaration order of the enum.
fn patterns(service: &Service) -> Vec<Pattern> {
    let mut patterns: Vec<Pattern> = service.methods.iter().map(|m| m.pattern).collect();
    patterns.sort();
    patterns.dedup();
    patterns
}

/// The handler trait's docs: what each pattern in use means and the guards, once.
fn handler_trait_docs(service: &Service) -> Vec<TokenStream> {
    let proto = &service.proto_name;
    let mut lines = vec![
        format!(" What a `{proto}` server does: one method per RPC, shaped by its pattern."),
        " A method left unimplemented answers `UNIMPLEMENTED`.".to_owned(),
    ];
    let patterns = patterns(service);
    if !patterns.is_empty() {
        lines.push(String::new());
        for pattern in &patterns {
            lines.push(emitter(*pattern).handler_doc().to_owned());
        }
        let mut guards = " Every call has a deadline and turns a panic into `INTERNAL`".to_owned();
        if patterns.iter().any(|p| p.server_streams()) {
            guards.push_str("; sinks are bounded and stop when the client cancels");
        }
        if patterns.iter().any(|p| p.client_streams()) {
            guards.push_str("; request streams have inbound limits");
        }
        guards.push('.');
        lines.push(String::new());
        lines.push(guards);
    }
    lines.iter().map(|d| quote!(#[doc = #d])).collect()
}

/// The items each method adds to the stream module, in declaration order.
#[derive(Default)]
struct MethodItems {
    /// `paths::<METHOD>`.
    path_consts: Vec<TokenStream>,
    /// `retry::<METHOD>`.
    retry_consts: Vec<TokenStream>,
    /// The handler trait's methods.
    handler_fns: Vec<TokenStream>,
    /// The config struct's fields.
    config_fields: Vec<TokenStream>,
    /// The config's `DEFAULT` initialisers.
    config_defaults: Vec<TokenStream>,
    /// The adapter's implementations of tonic's trait methods.
    adapter_fns: Vec<TokenStream>,
    /// The client's associated constants.
    client_consts: Vec<TokenStream>,
    /// The client's helpers.
    client_fns: Vec<TokenStream>,
}

impl MethodItems {
    /// The items of every method of `service`.
    fn of(service: &Service, rt: &TokenStream) -> Result<MethodItems, Error> {
        let mut items = MethodItems::default();
        for method in &service.methods {
            items.add(service, method, rt)?;
        }
        Ok(items)
    }

    /// Adds `method`'s items.
    fn add(&mut self, service: &Service, method: &Method, rt: &TokenStream) -> Result<(), Error> {
        let name = ident(&method.rust_name)?;
        let path_const = format_ident!("{}", method.path_const);
        let grpc_path = &method.grpc_path;
        let deprecated = method.deprecated.then(|| quote!(#[deprecated]));
        let path_doc = format!(" `{}`.", method.proto_name);
        self.path_consts.push(quote! {
            #[doc = #path_doc]
            pub const #path_const: &str = #grpc_path;
        });
        let retry_doc = retry_doc(method);
        let retry = retry_expr(method.retry.as_ref(), rt);
        self.retry_consts.push(quote! {
            #[doc = #retry_doc]
            pub const #path_const: ::core::option::Option<#rt::RetryPolicy> = #retry;
        });
        self.config_fields.push(quote! {
            #[doc = #path_doc]
            pub #name: #rt::CallConfig,
        });
        let default = call_config_expr(method, rt);
        self.config_defaults.push(quote!(#name: #default));
        let cx = Context {
            service,
            method,
            rt,
            types: Spelling::absolute(
                rt,
                method_ty(&method.request)?,
                method_ty(&method.response)?,
            ),
            deprecated: deprecated.clone().unwrap_or_default(),
        };
        let docs = handler_docs(method);
        let signature = handler_signature(method, &cx.types)?;
        let body = default_body(method, &cx.types);
        let allow = self_convention_allow(&method.rust_name);
        self.handler_fns.push(quote! {
            #(#docs)*
            #deprecated
            #allow
            #signature #body
        });
        let emitter = emitter(method.pattern);
        self.adapter_fns.push(emitter.adapter(&cx)?);
        let client = emitter.client(&cx)?;
        self.client_consts.extend(client.consts);
        self.client_fns.extend(client.fns);
        Ok(())
    }
}

/// `#[doc = ..]` attributes, one per line.
fn doc_attrs(lines: &[String]) -> Vec<TokenStream> {
    lines.iter().map(|d| quote!(#[doc = #d])).collect()
}

/// `#[allow(deprecated)]` where a method of `service` is deprecated (its implementations
/// and helpers name it).
fn allow_deprecated(service: &Service) -> Option<TokenStream> {
    service
        .methods
        .iter()
        .any(|m| m.deprecated)
        .then(|| quote!(#[allow(deprecated)]))
}

/// Emits the `<service>_stream` module, with `extra` (the test harness, or nothing) as its
/// last items: added as tokens, so the module is parsed once.
pub fn service(service: &Service, paths: &Paths, extra: TokenStream) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let module = format_ident!("{}", service.stream_module);
    let handler = &service.handler_trait;
    let adapter = &service.adapter;
    let mut module_docs = vec![format!(
        " The stream layer of `{}`: implement `{handler}` and serve it with `{adapter}`.",
        service.full_name
    )];
    if !service.comments.is_empty() {
        module_docs.push(String::new());
        module_docs.extend(service.comments.iter().cloned());
    }
    let module_docs = doc_attrs(&module_docs);
    let service_deprecated = service.deprecated.then(|| quote!(#[deprecated]));
    let items = MethodItems::of(service, rt)?;
    let path_consts = &items.path_consts;
    let retry_consts = &items.retry_consts;
    let tuning = tuning_expr(&service.tuning, rt);
    let tuning_doc = tuning_doc(service);
    let server = server_side(service, rt, &items);
    let client = client_side(service, rt, &items);
    Ok(quote! {
        #(#module_docs)*
        #service_deprecated
        pub mod #module {
            /// Full gRPC path of each method, as the call context reports it.
            pub mod paths {
                #(#path_consts)*
            }

            /// Retry policy of each method, which the stream client attaches to every call
            /// (unless `without_retries`). Only a fleet channel (`connect_fleet`) applies it;
            /// other channels ignore it. A fleet also retries, for any method, calls no
            /// server saw.
            pub mod retry {
                #(#retry_consts)*
            }

            #[doc = #tuning_doc]
            pub const TUNING: #rt::Tuning = #tuning;

            #server
            #client
            #extra
        }
    })
}

/// The docs of the service's `TUNING`.
fn tuning_doc(service: &Service) -> String {
    let overridden = service.tuning.overrides().set_values().next().is_some();
    format!(
        " The HTTP/2 tuning of `{}`: the `{}` preset{}.",
        service.proto_name,
        service.tuning.preset,
        if overridden {
            " with the proto's overrides"
        } else {
            ""
        }
    )
}

/// The server side of the stream module: the handler trait, the per-method configuration,
/// the adapter to tonic's server trait and `server_builder`.
fn server_side(service: &Service, rt: &TokenStream, items: &MethodItems) -> TokenStream {
    let proto = &service.proto_name;
    let handler = format_ident!("{}", service.handler_trait);
    let config = format_ident!("{}", service.config_struct);
    let adapter = format_ident!("{}", service.adapter);
    let tonic_trait = format_ident!("{}", service.tonic_trait);
    let server_mod = format_ident!("{}", service.tonic_server_module);
    let handler_docs = handler_trait_docs(service);
    let config_doc = format!(" The guards of each method of `{proto}`.");
    let MethodItems {
        handler_fns,
        config_fields,
        config_defaults,
        adapter_fns,
        ..
    } = items;
    let adapter_items = adapter_items(service, rt);
    let allow_deprecated = allow_deprecated(service);
    quote! {
        #(#handler_docs)*
        pub trait #handler: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#handler_fns)*
        }

        #[doc = #config_doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct #config {
            #(#config_fields)*
        }

        impl #config {
            /// The configuration the proto's options describe.
            pub const DEFAULT: #config = #config { #(#config_defaults,)* };
        }

        impl ::core::default::Default for #config {
            fn default() -> Self {
                Self::DEFAULT
            }
        }

        #adapter_items

        /// A tonic server builder with `TUNING` applied, ready for `add_service`.
        pub fn server_builder() -> #rt::TunedServer {
            TUNING.server()
        }

        #allow_deprecated
        #[#rt::tonic::async_trait]
        impl<H: #handler> super::#server_mod::#tonic_trait for #adapter<H> {
            #(#adapter_fns)*
        }
    }
}

/// The adapter struct serving a handler through tonic's server trait, and its constructors.
fn adapter_items(service: &Service, rt: &TokenStream) -> TokenStream {
    let handler = format_ident!("{}", service.handler_trait);
    let config = format_ident!("{}", service.config_struct);
    let adapter = format_ident!("{}", service.adapter);
    let server_mod = format_ident!("{}", service.tonic_server_module);
    let tonic_server = format_ident!("{}", service.tonic_server);
    let compression = server_compression(service, rt);
    let adapter_doc = format!(
        " Serves a `{handler}` through tonic's `{}` server trait with rust-stream's guards.",
        service.proto_name
    );
    // A service without RPCs never calls its handler.
    let allow_unread = service
        .methods
        .is_empty()
        .then(|| quote!(#[allow(dead_code)]));
    quote! {
        #[doc = #adapter_doc]
        #[derive(Debug)]
        pub struct #adapter<H> {
            #allow_unread
            handler: ::std::sync::Arc<H>,
            config: #config,
        }

        impl<H: #handler> #adapter<H> {
            /// Wraps `handler` with the proto's configuration.
            pub fn new(handler: H) -> Self {
                Self::from_arc(::std::sync::Arc::new(handler))
            }

            /// Wraps a shared `handler`.
            pub fn from_arc(handler: ::std::sync::Arc<H>) -> Self {
                #adapter { handler, config: #config::DEFAULT }
            }

            /// Replaces the per-method configuration.
            pub fn with_config(mut self, config: #config) -> Self {
                self.config = config;
                self
            }

            /// The tonic service to add to a server, with `TUNING`'s message size limits
            /// and the compression the methods' options name.
            pub fn into_server(self) -> super::#server_mod::#tonic_server<Self> {
                super::#server_mod::#tonic_server::new(self)
                    .max_decoding_message_size(TUNING.max_message_size)
                    .max_encoding_message_size(TUNING.max_message_size)
                    #compression
            }
        }
    }
}

/// The stream client's docs: what it is, and what each pattern's helpers return.
fn client_docs(service: &Service) -> Vec<TokenStream> {
    let mut docs = vec![
        format!(
            " A `{}` client with `TUNING` and helpers shaped by each pattern.",
            service.proto_name
        ),
        " Helpers take `&self`: one client (or its clones, which share the connection) makes \
         any number of calls at once."
            .to_owned(),
        " Each call carries its method's policy from `retry`, which only a fleet channel \
         (`connect_fleet`) applies."
            .to_owned(),
    ];
    let pattern_docs: Vec<&str> = patterns(service)
        .into_iter()
        .filter_map(|p| emitter(p).client_doc())
        .collect();
    if !pattern_docs.is_empty() {
        docs.push(String::new());
        docs.extend(pattern_docs.iter().map(|d| (*d).to_owned()));
    }
    doc_attrs(&docs)
}

/// The client side of the stream module: the alias of tonic's client, and the stream client
/// with its constructors, settings and helpers.
fn client_side(service: &Service, rt: &TokenStream, items: &MethodItems) -> TokenStream {
    let client = format_ident!("{}", service.stream_client);
    let alias = format_ident!("{TONIC_CLIENT_ALIAS}");
    let client_mod = format_ident!("{}", service.tonic_client_module);
    let tonic_client = format_ident!("{}", service.tonic_client);
    let alias_doc = format!(" tonic's `{}` client on a channel.", service.proto_name);
    let docs = client_docs(service);
    let constructors = client_constructors(&client, rt);
    let MethodItems {
        client_consts,
        client_fns,
        ..
    } = items;
    let allow_deprecated = allow_deprecated(service);
    quote! {
        #[doc = #alias_doc]
        pub type #alias = super::#client_mod::#tonic_client<#rt::tonic::transport::Channel>;

        #(#docs)*
        #[derive(Clone, Debug)]
        pub struct #client {
            // Every helper calls through it: tonic's generic client, which keeps a reply's
            // headers and trailers apart where tonic's generated unary client merges them.
            grpc: #rt::tonic::client::Grpc<#rt::ClientChannel>,
            timeout: ::core::option::Option<::core::time::Duration>,
            // Whether calls carry their method's policy from `retry`.
            retries: bool,
        }

        #allow_deprecated
        impl #client {
            #(#client_consts)*

            #constructors

            #(#client_fns)*
        }
    }
}

/// The stream client's constructors and settings.
fn client_constructors(client: &proc_macro2::Ident, rt: &TokenStream) -> TokenStream {
    quote! {
        /// Connects to `uri` (for example `http://127.0.0.1:50051`) with `TUNING`.
        pub async fn connect(
            uri: impl ::core::convert::Into<::std::string::String>,
        ) -> ::core::result::Result<Self, #rt::tonic::transport::Error> {
            ::core::result::Result::Ok(Self::from_channel(TUNING.connect(uri).await?))
        }

        /// Connects to an `https://` `uri` over TLS with `TUNING`: `tls` says which servers
        /// to trust and, for mTLS, which certificate to present.
        pub async fn connect_tls(
            uri: impl ::core::convert::Into<::std::string::String>,
            tls: &#rt::ClientTls,
        ) -> ::core::result::Result<Self, #rt::tonic::transport::Error> {
            ::core::result::Result::Ok(Self::from_channel(TUNING.connect_tls(uri, tls).await?))
        }

        /// Uses an existing channel, with `TUNING`'s message size limits; compressed
        /// responses are accepted in gzip and zstd. Takes a `Channel`, or a metered one
        /// (`metrics.channel(channel, target)`, feature `metrics`) to record every call.
        pub fn from_channel(channel: impl ::core::convert::Into<#rt::ClientChannel>) -> Self {
            #client {
                grpc: #rt::client_grpc(channel.into(), TUNING.max_message_size, ::core::option::Option::None),
                timeout: ::core::option::Option::None,
                retries: true,
            }
        }

        /// Connects to every replica of `target` with `TUNING`: a gRPC name
        /// (`dns:///api.internal:50051`, `ipv4:10.0.0.1:50051,10.0.0.2:50051`, `ipv6:[::1]:50051`)
        /// or `http(s)://host:port`. Calls are balanced round robin over the replicas, fail
        /// over, and are retried as each method's policy in `retry` says.
        pub async fn connect_fleet(
            target: &str,
        ) -> ::core::result::Result<Self, #rt::FleetError> {
            ::core::result::Result::Ok(Self::from_channel(TUNING.fleet(target)?.connect().await?))
        }

        /// As `connect_fleet`, over TLS with `tls` to every replica.
        pub async fn connect_fleet_tls(
            target: &str,
            tls: &#rt::ClientTls,
        ) -> ::core::result::Result<Self, #rt::FleetError> {
            let fleet = TUNING.fleet(target)?.tls(::core::clone::Clone::clone(tls));
            ::core::result::Result::Ok(Self::from_channel(fleet.connect().await?))
        }

        /// Makes calls carry no retry policy: a fleet channel then retries only calls no
        /// server saw, whatever `retry` says.
        pub fn without_retries(mut self) -> Self {
            self.retries = false;
            self
        }

        /// Compresses every request sent through the helpers with `encoding`
        /// (grpcio's `compression=` on a call). A server that does not accept it
        /// answers `UNIMPLEMENTED`.
        pub fn with_compression(mut self, encoding: #rt::Encoding) -> Self {
            self.grpc = self.grpc.send_compressed(encoding.tonic());
            self
        }

        /// Gives every call made through the helpers a deadline of `timeout` from its
        /// start, sent as `grpc-timeout`; expiry surfaces as `DEADLINE_EXCEEDED`.
        pub fn with_timeout(mut self, timeout: ::core::time::Duration) -> Self {
            self.timeout = ::core::option::Option::Some(timeout);
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_rules_follow_rustc() {
        for (name, camel) in [
            ("GetUser", true),
            ("Self_", true),
            ("Self_Client", false),
            ("get_userStream", false),
            ("A__B", false),
            ("Get2_Stream", false),
            ("HTTPApi", true),
        ] {
            assert_eq!(is_camel_case(name), camel, "{name}");
        }
        for (name, snake) in [
            ("get_user", true),
            ("get__user", false),
            ("r#type", true),
            ("getUser", false),
            ("connect_", true),
        ] {
            assert_eq!(is_snake_case(name), snake, "{name}");
        }
    }
}
