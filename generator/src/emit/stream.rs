//! The stream layer of one service: handler trait, per-method configuration, the adapter to
//! tonic's server trait, server and client constructors with the service's tuning, and the
//! pattern-shaped client helpers.

use crate::emit::pattern::{
    Context, Spelling, breaks_self_convention, capitalize, default_body, emitter,
    handler_signature, self_convention_allow, usize_literal,
};
use crate::emit::{doc_lines, ident, rust_type};
use crate::error::{DiagnosticKind, Error};
use crate::model::{Idempotency, Method, Package, Pattern, Service, TypeRef};
use crate::options::{CompressionOption, TuningSpec};
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

fn tuning_expr(tuning: &TuningSpec, rt: &TokenStream) -> TokenStream {
    let preset = format_ident!("{}", tuning.preset.to_uppercase());
    let mut fields = Vec::new();
    if let Some(w) = tuning.stream_window {
        let w = Literal::u32_unsuffixed(w);
        fields.push(quote!(stream_window: #w));
    }
    if let Some(w) = tuning.connection_window {
        let w = Literal::u32_unsuffixed(w);
        fields.push(quote!(connection_window: #w));
    }
    if let Some(size) = tuning.max_message_size {
        let size = usize_literal(usize::try_from(size).unwrap_or(usize::MAX));
        fields.push(quote!(max_message_size: #size));
    }
    if fields.is_empty() {
        quote!(#rt::Tuning::#preset)
    } else {
        quote!(#rt::Tuning { #(#fields,)* ..#rt::Tuning::#preset })
    }
}

fn call_config_expr(method: &Method, rt: &TokenStream) -> TokenStream {
    let options = &method.options;
    if options.is_default() {
        return quote!(#rt::CallConfig::DEFAULT);
    }
    let mut expr = quote!(#rt::CallConfig::DEFAULT);
    if let Some(buffer) = options.buffer {
        let buffer = usize_literal(buffer as usize);
        expr = quote!(#expr.with_buffer(#buffer));
    }
    if options.max_total_bytes.is_some()
        || options.max_messages.is_some()
        || options.idle_timeout_ms.is_some()
    {
        let mut fields = Vec::new();
        let opt = |v: u64| {
            if v == 0 {
                quote!(::core::option::Option::None)
            } else {
                let v = Literal::u64_unsuffixed(v);
                quote!(::core::option::Option::Some(#v))
            }
        };
        if let Some(v) = options.max_total_bytes {
            let v = opt(v);
            fields.push(quote!(max_total_bytes: #v));
        }
        if let Some(v) = options.max_messages {
            let v = opt(v);
            fields.push(quote!(max_messages: #v));
        }
        if let Some(ms) = options.idle_timeout_ms {
            let v = millis(ms);
            fields.push(quote!(idle_timeout: #v));
        }
        let rest = if fields.len() < 3 {
            quote!(..#rt::InboundLimits::DEFAULT)
        } else {
            quote!()
        };
        expr = quote!(#expr.with_limits(#rt::InboundLimits { #(#fields,)* #rest }));
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

/// Emits the `<service>_stream` module.
pub fn service(service: &Service, paths: &Paths) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let result = quote!(::core::result::Result);
    let proto = &service.proto_name;
    let module = format_ident!("{}", service.stream_module);
    let handler = format_ident!("{}", service.handler_trait);
    let config = format_ident!("{}", service.config_struct);
    let adapter = format_ident!("{}", service.adapter);
    let client = format_ident!("{}", service.stream_client);
    let tonic_trait = format_ident!("{}", service.tonic_trait);
    let server_mod = format_ident!("{}", service.tonic_server_module);
    let client_mod = format_ident!("{}", service.tonic_client_module);
    let tonic_server = format_ident!("{}", service.tonic_server);
    let tonic_client = format_ident!("{}", service.tonic_client);
    let tuning = tuning_expr(&service.tuning, rt);
    let compression = server_compression(service, rt);
    // What the unary and client-streaming `_with_metadata` helpers use, only where there are
    // any (fields never read would warn).
    let replies = service.methods.iter().any(|m| !m.pattern.server_streams());
    let (reply_fields, reply_init, reply_compression) = if replies {
        (
            quote! {
                channel: #rt::tonic::transport::Channel,
                compression: ::core::option::Option<#rt::Encoding>,
            },
            quote! {
                channel,
                compression: ::core::option::Option::None,
            },
            quote!(self.compression = ::core::option::Option::Some(encoding);),
        )
    } else {
        (quote!(), quote!(), quote!())
    };
    let channel_arg = if replies {
        quote!(::core::clone::Clone::clone(&channel))
    } else {
        quote!(channel)
    };
    let any_deprecated = service.methods.iter().any(|m| m.deprecated);
    // A service without RPCs never calls its handler.
    let allow_unread = if service.methods.is_empty() {
        quote!(#[allow(dead_code)])
    } else {
        quote!()
    };
    let allow_deprecated = if any_deprecated {
        quote!(#[allow(deprecated)])
    } else {
        quote!()
    };

    let mut path_consts = Vec::new();
    let mut handler_fns = Vec::new();
    let mut config_fields = Vec::new();
    let mut config_defaults = Vec::new();
    let mut adapter_fns = Vec::new();
    let mut client_fns = Vec::new();
    let mut client_consts = Vec::new();

    for method in &service.methods {
        let name = ident(&method.rust_name)?;
        let path_const = format_ident!("{}", method.path_const);
        let grpc_path = &method.grpc_path;
        let proto_name = &method.proto_name;
        let deprecated = if method.deprecated {
            quote!(#[deprecated])
        } else {
            quote!()
        };
        let path_doc = format!(" `{proto_name}`.");
        path_consts.push(quote! {
            #[doc = #path_doc]
            pub const #path_const: &str = #grpc_path;
        });
        config_fields.push(quote! {
            #[doc = #path_doc]
            pub #name: #rt::CallConfig,
        });
        let default = call_config_expr(method, rt);
        config_defaults.push(quote!(#name: #default));

        let cx = Context {
            service,
            method,
            rt,
            types: Spelling::absolute(
                rt,
                method_ty(&method.request)?,
                method_ty(&method.response)?,
            ),
            deprecated: deprecated.clone(),
        };
        let emitter = emitter(method.pattern);
        let docs = handler_docs(method);
        let signature = handler_signature(method, &cx.types)?;
        let body = default_body(method, &cx.types);
        let allow = self_convention_allow(&method.rust_name);
        handler_fns.push(quote! {
            #(#docs)*
            #deprecated
            #allow
            #signature #body
        });
        adapter_fns.push(emitter.adapter(&cx)?);
        let items = emitter.client(&cx)?;
        client_consts.extend(items.consts);
        client_fns.extend(items.fns);
    }

    let mut module_docs = vec![format!(
        " The stream layer of `{}`: implement `{handler}` and serve it with `{adapter}`.",
        service.full_name
    )];
    if !service.comments.is_empty() {
        module_docs.push(String::new());
        module_docs.extend(service.comments.iter().map(|c| c.to_owned()));
    }
    let module_docs: Vec<TokenStream> = module_docs.iter().map(|d| quote!(#[doc = #d])).collect();
    let service_deprecated = if service.deprecated {
        quote!(#[deprecated])
    } else {
        quote!()
    };
    let handler_docs = handler_trait_docs(service);
    let tuning_doc = format!(
        " The HTTP/2 tuning of `{proto}`: the `{}` preset{}.",
        service.tuning.preset,
        if service.tuning.stream_window.is_some()
            || service.tuning.connection_window.is_some()
            || service.tuning.max_message_size.is_some()
        {
            " with the proto's overrides"
        } else {
            ""
        }
    );
    let config_doc = format!(" The guards of each method of `{proto}`.");
    let adapter_doc = format!(
        " Serves a `{handler}` through tonic's `{proto}` server trait with rust-stream's guards."
    );
    let mut client_docs = vec![
        format!(" A `{proto}` client with `TUNING` and helpers shaped by each pattern."),
        " Helpers take `&self`: one client (or its clones, which share the connection) makes \
         any number of calls at once."
            .to_owned(),
    ];
    let pattern_docs: Vec<&str> = patterns(service)
        .into_iter()
        .filter_map(|p| emitter(p).client_doc())
        .collect();
    if !pattern_docs.is_empty() {
        client_docs.push(String::new());
        client_docs.extend(pattern_docs.iter().map(|d| (*d).to_owned()));
    }
    let client_docs: Vec<TokenStream> = client_docs.iter().map(|d| quote!(#[doc = #d])).collect();

    Ok(quote! {
        #(#module_docs)*
        #service_deprecated
        pub mod #module {
            /// Full gRPC path of each method, as the call context reports it.
            pub mod paths {
                #(#path_consts)*
            }

            #[doc = #tuning_doc]
            pub const TUNING: #rt::Tuning = #tuning;

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

            /// A tonic server builder with `TUNING` applied, ready for `add_service`.
            pub fn server_builder() -> #rt::TunedServer {
                TUNING.server()
            }

            #allow_deprecated
            #[#rt::tonic::async_trait]
            impl<H: #handler> super::#server_mod::#tonic_trait for #adapter<H> {
                #(#adapter_fns)*
            }

            #(#client_docs)*
            #[derive(Clone, Debug)]
            pub struct #client {
                inner: super::#client_mod::#tonic_client<#rt::tonic::transport::Channel>,
                timeout: ::core::option::Option<::core::time::Duration>,
                #reply_fields
            }

            #allow_deprecated
            impl #client {
                #(#client_consts)*

                /// Connects to `uri` (for example `http://127.0.0.1:50051`) with `TUNING`.
                pub async fn connect(
                    uri: impl ::core::convert::Into<::std::string::String>,
                ) -> #result<Self, #rt::tonic::transport::Error> {
                    ::core::result::Result::Ok(Self::from_channel(TUNING.connect(uri).await?))
                }

                /// Uses an existing channel, with `TUNING`'s message size limits; compressed
                /// responses are accepted in gzip and zstd.
                pub fn from_channel(channel: #rt::tonic::transport::Channel) -> Self {
                    #client {
                        inner: super::#client_mod::#tonic_client::new(#channel_arg)
                            .max_decoding_message_size(TUNING.max_message_size)
                            .max_encoding_message_size(TUNING.max_message_size)
                            .accept_compressed(#rt::Encoding::Gzip.tonic())
                            .accept_compressed(#rt::Encoding::Zstd.tonic()),
                        timeout: ::core::option::Option::None,
                        #reply_init
                    }
                }

                /// Compresses every request sent through the helpers with `encoding`
                /// (grpcio's `compression=` on a call). A server that does not accept it
                /// answers `UNIMPLEMENTED`.
                pub fn with_compression(mut self, encoding: #rt::Encoding) -> Self {
                    self.inner = self.inner.send_compressed(encoding.tonic());
                    #reply_compression
                    self
                }

                /// Gives every call made through the helpers a deadline of `timeout` from its
                /// start, sent as `grpc-timeout`; expiry surfaces as `DEADLINE_EXCEEDED`.
                pub fn with_timeout(mut self, timeout: ::core::time::Duration) -> Self {
                    self.timeout = ::core::option::Option::Some(timeout);
                    self
                }

                /// The plain tonic client underneath, for calls with custom metadata.
                pub fn inner(&mut self) -> &mut super::#client_mod::#tonic_client<#rt::tonic::transport::Channel> {
                    &mut self.inner
                }

                #(#client_fns)*
            }
        }
    })
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
