//! The stream layer of one service: handler trait, per-method configuration, the adapter to
//! tonic's server trait, server and client constructors with the service's tuning, and the
//! pattern-shaped client helpers.

use crate::emit::{doc_lines, ident, rust_type};
use crate::error::{DiagnosticKind, Error};
use crate::model::{Idempotency, Method, Package, Pattern, Service, TypeRef};
use crate::options::TuningSpec;
use proc_macro2::TokenStream;
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
        fields.push(quote!(stream_window: #w));
    }
    if let Some(w) = tuning.connection_window {
        fields.push(quote!(connection_window: #w));
    }
    if let Some(size) = tuning.max_message_size {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
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
        let buffer = buffer as usize;
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
            let v = if ms == 0 {
                quote!(::core::option::Option::None)
            } else {
                quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms)))
            };
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
        let v = if ms == 0 {
            quote!(::core::option::Option::None)
        } else {
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms)))
        };
        expr = quote!(#expr.with_default_deadline(#v));
    }
    expr
}

/// A one-line description of the guards a method gets, for docs and `inspect`.
pub fn guards(method: &Method) -> String {
    let mut guards = vec!["deadline", "panic -> INTERNAL"];
    if method.pattern.server_streams() {
        guards.push("bounded sink, stopped on cancel");
    }
    if method.pattern.client_streams() {
        guards.push("inbound limits");
    }
    guards.join(", ")
}

fn method_ty(type_ref: &TypeRef) -> Result<TokenStream, Error> {
    rust_type(&type_ref.rust_path, true)
}

/// Emits the `<service>_stream` module.
pub fn service(service: &Service, paths: &Paths) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let status = quote!(#rt::tonic::Status);
    let result = quote!(::core::result::Result);
    let proto = &service.proto_name;
    let module = format_ident!("{}", service.stream_module);
    let handler = format_ident!("{}", crate::ident::compose(&service.rust_name, "Handler"));
    let config = format_ident!("{}", crate::ident::compose(&service.rust_name, "Config"));
    let adapter = format_ident!("{}", crate::ident::compose(&service.rust_name, "Service"));
    let client = format_ident!(
        "{}",
        crate::ident::compose(&service.rust_name, "StreamClient")
    );
    let tonic_trait = format_ident!("{}", service.rust_name);
    let server_mod = format_ident!("{}_server", service.tonic_module);
    let client_mod = format_ident!("{}_client", service.tonic_module);
    let tonic_server = format_ident!("{}Server", service.rust_name);
    let tonic_client = format_ident!("{}Client", service.rust_name);
    let tuning = tuning_expr(&service.tuning, rt);
    let any_deprecated = service.methods.iter().any(|m| m.deprecated);
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
        let req = method_ty(&method.request)?;
        let res = method_ty(&method.response)?;
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

        let unimplemented = format!("{proto_name} is not implemented");
        let mut docs = doc_lines(&method.comments);
        if !docs.is_empty() {
            docs.push(quote!(#[doc = ""]));
        }
        let shape = match method.pattern {
            Pattern::Unary => " Unary: one request, one response.".to_owned(),
            Pattern::ServerStreaming => {
                " Server streaming: send responses to `sink` until done; `sink.send` fails once the client is gone.".to_owned()
            }
            Pattern::ClientStreaming => {
                " Client streaming: read `requests` to the end (limits apply), answer once.".to_owned()
            }
            Pattern::Bidi => {
                " Bidirectional: read `requests` and send to `sink`, independently.".to_owned()
            }
        };
        docs.push(quote!(#[doc = #shape]));
        let mut facts = format!(" `{grpc_path}`; guards: {}", guards(method));
        match method.idempotency {
            Idempotency::Unknown => {}
            Idempotency::NoSideEffects => facts.push_str("; declared without side effects"),
            Idempotency::Idempotent => facts.push_str("; declared idempotent"),
        }
        facts.push('.');
        docs.push(quote!(#[doc = ""]));
        docs.push(quote!(#[doc = #facts]));
        if let Some(reason) = &method.renamed_because {
            let note = format!(
                " Named `{}` because {reason}.",
                crate::ident::unraw(&method.rust_name)
            );
            docs.push(quote!(#[doc = ""]));
            docs.push(quote!(#[doc = #note]));
        }
        let default_doc = " Answers `UNIMPLEMENTED` unless implemented.";
        docs.push(quote!(#[doc = ""]));
        docs.push(quote!(#[doc = #default_doc]));

        let (params, args, output) = match method.pattern {
            Pattern::Unary => (
                quote!(request: #req),
                quote!(ctx, request),
                quote!(#result<#res, #status>),
            ),
            Pattern::ServerStreaming => (
                quote!(request: #req, sink: #rt::ResponseSink<#res>),
                quote!(ctx, request, sink),
                quote!(#result<(), #status>),
            ),
            Pattern::ClientStreaming => (
                quote!(requests: #rt::RequestStream<#req>),
                quote!(ctx, requests),
                quote!(#result<#res, #status>),
            ),
            Pattern::Bidi => (
                quote!(requests: #rt::RequestStream<#req>, sink: #rt::ResponseSink<#res>),
                quote!(ctx, requests, sink),
                quote!(#result<(), #status>),
            ),
        };
        handler_fns.push(quote! {
            #(#docs)*
            #deprecated
            fn #name(&self, ctx: #rt::CallContext, #params)
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            {
                let _ = (#args);
                async { #result::Err(#status::unimplemented(#unimplemented)) }
            }
        });

        let config_field = quote!(&self.config.#name);
        let path = quote!(paths::#path_const);
        adapter_fns.push(match method.pattern {
            Pattern::Unary => quote! {
                async fn #name(&self, request: #rt::tonic::Request<#req>)
                    -> #result<#rt::tonic::Response<#res>, #status>
                {
                    let handler = ::std::sync::Arc::clone(&self.handler);
                    #rt::unary(#path, #config_field, request, move |ctx, request| async move {
                        handler.#name(ctx, request).await
                    })
                    .await
                }
            },
            Pattern::ClientStreaming => quote! {
                async fn #name(&self, request: #rt::tonic::Request<#rt::tonic::Streaming<#req>>)
                    -> #result<#rt::tonic::Response<#res>, #status>
                {
                    let handler = ::std::sync::Arc::clone(&self.handler);
                    #rt::client_streaming(#path, #config_field, request, move |ctx, requests| async move {
                        handler.#name(ctx, requests).await
                    })
                    .await
                }
            },
            Pattern::ServerStreaming => {
                let stream = format_ident!("{}Stream", proto_name);
                quote! {
                    type #stream = #rt::ResponseStream<#res>;

                    async fn #name(&self, request: #rt::tonic::Request<#req>)
                        -> #result<#rt::tonic::Response<Self::#stream>, #status>
                    {
                        let handler = ::std::sync::Arc::clone(&self.handler);
                        #rt::server_streaming(#path, #config_field, request, move |ctx, request, sink| async move {
                            handler.#name(ctx, request, sink).await
                        })
                    }
                }
            }
            Pattern::Bidi => {
                let stream = format_ident!("{}Stream", proto_name);
                quote! {
                    type #stream = #rt::ResponseStream<#res>;

                    async fn #name(&self, request: #rt::tonic::Request<#rt::tonic::Streaming<#req>>)
                        -> #result<#rt::tonic::Response<Self::#stream>, #status>
                    {
                        let handler = ::std::sync::Arc::clone(&self.handler);
                        #rt::bidi_streaming(#path, #config_field, request, move |ctx, requests, sink| async move {
                            handler.#name(ctx, requests, sink).await
                        })
                    }
                }
            }
        });

        let client_doc = format!(" {} `{proto_name}`.", capitalize(method.pattern.label()));
        let unary_return = if method.response.rust_path == "()" {
            quote! {
                response.map_err(#rt::client_status)?;
                ::core::result::Result::Ok(())
            }
        } else {
            quote!(::core::result::Result::Ok(response.map_err(#rt::client_status)?.into_inner()))
        };
        client_fns.push(match method.pattern {
            Pattern::Unary => quote! {
                #[doc = #client_doc]
                #deprecated
                pub async fn #name(&mut self, request: #req) -> #result<#res, #status> {
                    let request = #rt::request(request, self.timeout);
                    let response = self.inner.#name(request).await;
                    #unary_return
                }
            },
            Pattern::ServerStreaming => quote! {
                #[doc = #client_doc]
                #[doc = ""]
                #[doc = " Read the responses with `message()`; drop them to cancel the call."]
                #deprecated
                pub async fn #name(&mut self, request: #req) -> #result<#rt::Responses<#res>, #status> {
                    let request = #rt::request(request, self.timeout);
                    let response = self.inner.#name(request).await;
                    ::core::result::Result::Ok(::core::convert::Into::into(
                        response.map_err(#rt::client_status)?.into_inner(),
                    ))
                }
            },
            Pattern::ClientStreaming => quote! {
                #[doc = #client_doc]
                #deprecated
                pub async fn #name(
                    &mut self,
                    requests: impl #rt::Stream<Item = #req> + ::core::marker::Send + 'static,
                ) -> #result<#res, #status> {
                    let requests = #rt::request(requests, self.timeout);
                    let response = self.inner.#name(requests).await;
                    #unary_return
                }
            },
            Pattern::Bidi => {
                let buffer = method.options.buffer.map_or(32, |b| b.max(1) as usize);
                quote! {
                    #[doc = #client_doc]
                    #[doc = ""]
                    #[doc = " Returns at once: send on the first half while reading the second. The call starts"]
                    #[doc = " in its own task, so servers that send headers only with their first response work."]
                    #deprecated
                    pub fn #name(&self) -> (#rt::Requests<#req>, #rt::Responses<#res>) {
                        let mut inner = self.inner.clone();
                        let timeout = self.timeout;
                        #rt::bidi(#buffer, move |requests| async move {
                            inner.#name(#rt::request(requests, timeout)).await
                        })
                    }
                }
            }
        });
        if let Some(helper) = &method.upload_helper {
            let helper = ident(helper)?;
            let size_const = format_ident!("{}_CHUNK_SIZE", method.path_const);
            let size = method.chunk_size();
            let size_doc =
                format!(" Chunk size for `{proto_name}` uploads: the proto's option or 64 KiB.");
            client_consts.push(quote! {
                #[doc = #size_doc]
                pub const #size_const: usize = #size;
            });
            let doc = format!(
                " Client-streaming `{proto_name}` from any reader, in chunks of `chunk_size` bytes (`Self::{size_const}` is the proto's choice), calling `progress` after each chunk."
            );
            client_fns.push(quote! {
                #[doc = #doc]
                #deprecated
                pub async fn #helper(
                    &mut self,
                    reader: impl #rt::AsyncRead + ::core::marker::Send + ::core::marker::Unpin + 'static,
                    chunk_size: usize,
                    progress: impl ::core::ops::FnMut(#rt::Progress) + ::core::marker::Send + 'static,
                ) -> #result<#res, #rt::UploadError> {
                    let mut inner = self.inner.clone();
                    let timeout = self.timeout;
                    #rt::upload(reader, chunk_size, progress, move |chunks: #rt::BoxStream<#req>| async move {
                        inner.#name(#rt::request(chunks, timeout)).await.map_err(#rt::client_status)
                    })
                    .await
                }
            });
        }
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
    let handler_doc = format!(
        " What a `{proto}` server does: one method per RPC, shaped by its pattern. Every method answers `UNIMPLEMENTED` until implemented."
    );
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
    let client_doc =
        format!(" A `{proto}` client with `TUNING` and helpers shaped by each pattern.");

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

            #[doc = #handler_doc]
            #[allow(clippy::wrong_self_convention)]
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

                /// The tonic service to add to a server, with `TUNING`'s message size limits.
                pub fn into_server(self) -> super::#server_mod::#tonic_server<Self> {
                    super::#server_mod::#tonic_server::new(self)
                        .max_decoding_message_size(TUNING.max_message_size)
                        .max_encoding_message_size(TUNING.max_message_size)
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

            #[doc = #client_doc]
            #[derive(Clone, Debug)]
            pub struct #client {
                inner: super::#client_mod::#tonic_client<#rt::tonic::transport::Channel>,
                timeout: ::core::option::Option<::core::time::Duration>,
            }

            #allow_deprecated
            #[allow(clippy::wrong_self_convention)]
            impl #client {
                #(#client_consts)*

                /// Connects to `uri` (for example `http://127.0.0.1:50051`) with `TUNING`.
                pub async fn connect(
                    uri: impl ::core::convert::Into<::std::string::String>,
                ) -> #result<Self, #rt::tonic::transport::Error> {
                    ::core::result::Result::Ok(Self::from_channel(TUNING.connect(uri).await?))
                }

                /// Uses an existing channel, with `TUNING`'s message size limits.
                pub fn from_channel(channel: #rt::tonic::transport::Channel) -> Self {
                    #client {
                        inner: super::#client_mod::#tonic_client::new(channel)
                            .max_decoding_message_size(TUNING.max_message_size)
                            .max_encoding_message_size(TUNING.max_message_size),
                        timeout: ::core::option::Option::None,
                    }
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

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
