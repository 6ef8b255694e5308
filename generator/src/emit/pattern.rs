//! One emitter per streaming pattern: the handler method's signature and default body, the
//! adapter method implementing tonic's server trait, the stream client's helpers, and the
//! body of a skeleton's stub. The stream layer, the skeleton and the derive emit a method
//! through [`emitter`], so each pattern's shape is written once.
//!
//! Generated calls to handler and client methods are fully qualified
//! (`<H as Handler>::clone(&handler, ..)`): an RPC may be named like a method of a trait
//! in scope (`Clone`, `Into`, `Drop`, ...), which method-call syntax would pick instead.

use crate::emit::ident;
use crate::emit::layout::{self, Ty};
use crate::error::Error;
use crate::model::{Method, Pattern, Service};
use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote};

/// How the caller spells the types of a handler signature: absolute paths in generated
/// code, short names in a skeleton.
pub struct Spelling {
    /// `CallContext`.
    pub call_context: TokenStream,
    /// `RequestStream` (without its type argument).
    pub request_stream: TokenStream,
    /// `ResponseSink` (without its type argument).
    pub response_sink: TokenStream,
    /// tonic's `Status`.
    pub status: TokenStream,
    /// `Result` (without type arguments).
    pub result: TokenStream,
    /// The request message.
    pub request: TokenStream,
    /// The response message.
    pub response: TokenStream,
}

impl Spelling {
    /// The absolute paths of generated code, for a method whose message types are
    /// `request` and `response`.
    pub fn absolute(rt: &TokenStream, request: TokenStream, response: TokenStream) -> Spelling {
        Spelling {
            call_context: quote!(#rt::CallContext),
            request_stream: quote!(#rt::RequestStream),
            response_sink: quote!(#rt::ResponseSink),
            status: quote!(#rt::tonic::Status),
            result: quote!(::core::result::Result),
            request,
            response,
        }
    }

    /// How `slot` is spelled.
    pub fn slot(&self, slot: Slot) -> TokenStream {
        let Spelling {
            request_stream,
            response_sink,
            request,
            response,
            ..
        } = self;
        match slot {
            Slot::Request => request.clone(),
            Slot::RequestStream => quote!(#request_stream<#request>),
            Slot::ResponseSink => quote!(#response_sink<#response>),
            Slot::Response => response.clone(),
            Slot::Unit => quote!(()),
        }
    }
}

/// What a handler method's parameter or success value holds; each caller spells it its own
/// way ([`Spelling::slot`] in generated code, text in a skeleton).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The request message.
    Request,
    /// `RequestStream<Request>`.
    RequestStream,
    /// `ResponseSink<Response>`.
    ResponseSink,
    /// The response message.
    Response,
    /// `()`: the responses went to the sink.
    Unit,
}

/// One parameter of a handler method, after `&self, ctx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input {
    /// Its name.
    pub name: &'static str,
    /// Declared `mut` in a skeleton, whose body reads the stream.
    pub mut_in_skeleton: bool,
    /// What it holds.
    pub slot: Slot,
}

/// A pattern's handler method: its parameters after `&self, ctx` and what it returns on
/// success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The parameters, in order.
    pub inputs: &'static [Input],
    /// The success value.
    pub output: Slot,
}

const REQUEST: Input = Input {
    name: "request",
    mut_in_skeleton: false,
    slot: Slot::Request,
};
const REQUESTS: Input = Input {
    name: "requests",
    mut_in_skeleton: true,
    slot: Slot::RequestStream,
};
const SINK: Input = Input {
    name: "sink",
    mut_in_skeleton: false,
    slot: Slot::ResponseSink,
};

/// What the stream layer knows when it emits one method.
pub struct Context<'a> {
    /// The service.
    pub service: &'a Service,
    /// The method.
    pub method: &'a Method,
    /// The runtime's `codegen` module.
    pub rt: &'a TokenStream,
    /// The types, as the stream module spells them.
    pub types: Spelling,
    /// `#[deprecated]` if the method is, else nothing.
    pub deprecated: TokenStream,
}

/// The stream client's items for one method.
#[derive(Default)]
pub struct ClientItems {
    /// Associated constants of the client.
    pub consts: Vec<TokenStream>,
    /// Helper functions of the client.
    pub fns: Vec<TokenStream>,
}

/// The code of one streaming pattern.
pub trait PatternEmitter: Sync {
    /// What methods of this pattern do, said once in the handler trait's docs.
    fn handler_doc(&self) -> &'static str;

    /// What the client helpers of this pattern return, said once in the client's docs.
    fn client_doc(&self) -> Option<&'static str>;

    /// The handler method's parameters and success value.
    fn shape(&self) -> &'static Shape;

    /// The handler method's parameters after `&self, ctx`; `mut` on the request stream if
    /// `mutable` (a skeleton's body reads it).
    fn inputs(&self, types: &Spelling, mutable: bool) -> TokenStream {
        let inputs = self.shape().inputs.iter().map(|input| {
            let name = format_ident!("{}", input.name);
            let mutable = (mutable && input.mut_in_skeleton).then(|| quote!(mut));
            let ty = types.slot(input.slot);
            quote!(#mutable #name: #ty)
        });
        quote!(#(#inputs),*)
    }

    /// The names of those parameters, as a tuple's elements.
    fn arguments(&self) -> TokenStream {
        let names = self
            .shape()
            .inputs
            .iter()
            .map(|input| format_ident!("{}", input.name));
        quote!(#(#names),*)
    }

    /// The success type of the handler method.
    fn output(&self, types: &Spelling) -> TokenStream {
        types.slot(self.shape().output)
    }

    /// The adapter's implementation of tonic's trait method, with its associated stream type
    /// for server streaming patterns.
    fn adapter(&self, cx: &Context<'_>) -> Result<TokenStream, Error>;

    /// The stream client's helpers.
    fn client(&self, cx: &Context<'_>) -> Result<ClientItems, Error>;

    /// The body of a skeleton stub, as source text inside the braces, indented for a method of
    /// an `impl` block and laid out as rustfmt would.
    fn skeleton_body(&self, method: &Method, types: &SkeletonTypes) -> String;
}

/// The type names a skeleton body writes, as the skeleton spells them.
pub struct SkeletonTypes {
    /// tonic's `Status`.
    pub status: String,
    /// The response message.
    pub response: String,
}

impl SkeletonTypes {
    /// `Option<Response>`.
    fn optional_response(&self) -> Ty {
        Ty::generic("Option", vec![self.response.clone()])
    }

    /// `Status::unimplemented`.
    fn unimplemented(&self) -> String {
        format!("{}::unimplemented", self.status)
    }
}

/// The literal `"<Rpc> is not implemented yet<detail>"` of a stub's `UNIMPLEMENTED` status.
fn not_implemented(method: &Method, detail: &str) -> String {
    format!("\"{} is not implemented yet{detail}\"", method.proto_name)
}

/// The emitter of `pattern`.
pub fn emitter(pattern: Pattern) -> &'static dyn PatternEmitter {
    match pattern {
        Pattern::Unary => &Unary,
        Pattern::ServerStreaming => &ServerStreaming,
        Pattern::ClientStreaming => &ClientStreaming,
        Pattern::Bidi => &Bidi,
    }
}

/// The handler trait's method signature: `fn name(&self, ctx, ..) -> impl Future<..> + Send`.
pub fn handler_signature(method: &Method, types: &Spelling) -> Result<TokenStream, Error> {
    let emitter = emitter(method.pattern);
    let name = ident(&method.rust_name)?;
    let Spelling {
        call_context,
        status,
        result,
        ..
    } = types;
    let inputs = emitter.inputs(types, false);
    let output = emitter.output(types);
    Ok(quote! {
        fn #name(&self, ctx: #call_context, #inputs)
            -> impl ::core::future::Future<Output = #result<#output, #status>> + ::core::marker::Send
    })
}

/// The handler trait's default body: `UNIMPLEMENTED`.
pub fn default_body(method: &Method, types: &Spelling) -> TokenStream {
    let arguments = emitter(method.pattern).arguments();
    let Spelling { status, result, .. } = types;
    let message = format!("{} is not implemented", method.proto_name);
    quote! {
        {
            let _ = (ctx, #arguments);
            async { #result::Err(#status::unimplemented(#message)) }
        }
    }
}

/// A skeleton stub's signature: `async fn name(&self, ctx, ..) -> Result<..>`.
pub fn skeleton_signature(method: &Method, types: &Spelling) -> Result<TokenStream, Error> {
    let emitter = emitter(method.pattern);
    let name = ident(&method.rust_name)?;
    let Spelling {
        call_context,
        status,
        result,
        ..
    } = types;
    let inputs = emitter.inputs(types, true);
    let output = emitter.output(types);
    Ok(quote!(async fn #name(&self, ctx: #call_context, #inputs) -> #result<#output, #status>))
}

/// A `usize` literal without suffix: the context gives its type.
pub fn usize_literal(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// `#[allow(clippy::wrong_self_convention)]` for a trait method named `name` taking `&self`
/// if clippy's naming conventions expect another receiver (`from_` none, `into_` `self`,
/// `to_mut` and `to_.._mut` `&mut self`). Public inherent functions are exempt by clippy's
/// default `avoid-breaking-exported-api`, so clients need none.
pub fn self_convention_allow(name: &str) -> TokenStream {
    if breaks_self_convention(name) {
        quote!(#[allow(clippy::wrong_self_convention)])
    } else {
        quote!()
    }
}

/// clippy's `wrong_self_convention` rule for a trait method named `name` taking `&self`.
pub fn breaks_self_convention(name: &str) -> bool {
    let name = crate::ident::unraw(name);
    name.starts_with("from_")
        || name.starts_with("into_")
        || name == "to_mut"
        || (name.starts_with("to_") && name.ends_with("_mut"))
}

/// The fully qualified call of the handler method: `<H as Handler>::name(&handler, ..)`.
fn handler_call(cx: &Context<'_>, arguments: TokenStream) -> Result<TokenStream, Error> {
    let handler = format_ident!("{}", cx.service.handler_trait);
    let name = ident(&cx.method.rust_name)?;
    Ok(quote!(<H as #handler>::#name(&handler, #arguments)))
}

/// The name of the stream module's alias for tonic's client of the service on a channel.
pub const TONIC_CLIENT_ALIAS: &str = "TonicClient";

/// The adapter method: unwraps tonic's request, runs the handler through `runner` with the
/// method's guards, and answers with `response` (`Self::<Stream>` for server streaming).
fn adapter_fn(
    cx: &Context<'_>,
    runner: TokenStream,
    streaming_request: bool,
) -> Result<TokenStream, Error> {
    let rt = cx.rt;
    let Spelling {
        status,
        result,
        request: req,
        response: res,
        ..
    } = &cx.types;
    let emitter = emitter(cx.method.pattern);
    let arguments = emitter.arguments();
    let call = handler_call(cx, quote!(ctx, #arguments))?;
    let name = ident(&cx.method.rust_name)?;
    let path_const = format_ident!("{}", cx.method.path_const);
    let config = quote!(&self.config.#name);
    let request_ty = if streaming_request {
        quote!(#rt::tonic::Request<#rt::tonic::Streaming<#req>>)
    } else {
        quote!(#rt::tonic::Request<#req>)
    };
    let run = quote! {
        #rt::#runner(paths::#path_const, #config, request, move |ctx, #arguments| async move {
            #call.await
        })
        .await
    };
    Ok(match &cx.method.stream_type {
        // Server streaming: tonic's associated stream type, and the runner returns at once.
        Some(stream) => {
            let stream = format_ident!("{stream}");
            quote! {
                type #stream = #rt::ResponseStream<#res>;

                async fn #name(&self, request: #request_ty)
                    -> #result<#rt::tonic::Response<Self::#stream>, #status>
                {
                    let handler = ::std::sync::Arc::clone(&self.handler);
                    #run
                }
            }
        }
        None => quote! {
            async fn #name(&self, request: #request_ty)
                -> #result<#rt::tonic::Response<#res>, #status>
            {
                let handler = ::std::sync::Arc::clone(&self.handler);
                #run
            }
        },
    })
}

/// The name of the method's `<name>_with_metadata` helper.
fn metadata_helper(cx: &Context<'_>) -> Result<proc_macro2::Ident, Error> {
    let name = cx.method.reply_helper.as_deref().ok_or_else(|| {
        Error::new(
            crate::error::DiagnosticKind::Internal,
            format!("`{}` has no metadata helper name", cx.method.proto_name),
        )
    })?;
    ident(name)
}

/// The docs of a method's `<name>_with_metadata` helper.
fn metadata_doc(method: &Method) -> String {
    // (Streaming responses keep theirs in `Responses`.)
    let reply = if method.pattern.server_streams() {
        "request metadata; the responses keep the headers and trailers"
    } else {
        "the request's metadata; the reply keeps the response's headers and trailers"
    };
    format!(
        " {} `{}` with {reply}.",
        capitalize(method.pattern.label()),
        method.proto_name
    )
}

/// What a pattern's two client helpers (`<name>` and `<name>_with_metadata`) differ in;
/// [`client_helpers`] writes the rest. The plain helper calls the metadata helper, so each
/// RPC has one code path.
struct ClientShape {
    /// `async`, or nothing for a helper that returns at once.
    asyncness: Option<TokenStream>,
    /// The plain helper's parameter after `&self`, if any.
    input: Option<TokenStream>,
    /// What the plain helper returns.
    output: TokenStream,
    /// How the plain helper's parameter becomes the metadata helper's argument.
    to_metadata: TokenStream,
    /// What the plain helper does with the metadata helper's result.
    from_metadata: TokenStream,
    /// The metadata helper's parameter after `&self`.
    metadata_input: TokenStream,
    /// What the metadata helper returns.
    metadata_output: TokenStream,
    /// The metadata helper's body.
    body: TokenStream,
}

/// The pair of client helpers of `cx`'s method, shaped by `shape`.
fn client_helpers(cx: &Context<'_>, shape: ClientShape) -> Result<TokenStream, Error> {
    let ClientShape {
        asyncness,
        input,
        output,
        to_metadata,
        from_metadata,
        metadata_input,
        metadata_output,
        body,
    } = shape;
    let method = cx.method;
    let name = client_name(method)?;
    let helper = metadata_helper(cx)?;
    let docs = client_docs(method);
    let metadata_doc = metadata_doc(method);
    let deprecated = &cx.deprecated;
    // `fn clone(&self) -> ..` looks like `Clone::clone` to clippy.
    let allow = (input.is_none() && crate::ident::unraw(&method.client_helper) == "clone")
        .then(|| quote!(#[allow(clippy::should_implement_trait)]));
    let wait = asyncness.as_ref().map(|_| quote!(.await));
    let params = std::iter::once(quote!(&self)).chain(input);
    Ok(quote! {
        #docs
        #deprecated
        #allow
        pub #asyncness fn #name(#(#params),*) -> #output {
            Self::#helper(self, #to_metadata)#wait #from_metadata
        }

        #[doc = #metadata_doc]
        #deprecated
        pub #asyncness fn #helper(&self, #metadata_input) -> #metadata_output {
            #body
        }
    })
}

/// The shape of the helpers of a method that answers once (unary, client streaming): the
/// metadata helper makes the call through the client's `grpc`, which keeps the response's
/// headers and trailers apart; the plain helper keeps the message.
fn single_reply_shape(cx: &Context<'_>, input: TokenStream, request: TokenStream) -> ClientShape {
    let rt = cx.rt;
    let Spelling {
        status,
        result,
        request: req,
        response: res,
        ..
    } = &cx.types;
    let path_const = format_ident!("{}", cx.method.path_const);
    let grpc = grpc_clone();
    let policy = retry_policy(cx);
    let (metadata_input, stream) = if cx.method.pattern.client_streams() {
        (
            quote!(requests: #rt::tonic::Request<impl #rt::Stream<Item = #req> + ::core::marker::Send + 'static>),
            quote!(requests),
        )
    } else {
        (
            quote!(request: #rt::tonic::Request<#req>),
            quote!(request.map(#rt::once)),
        )
    };
    ClientShape {
        asyncness: Some(quote!(async)),
        input: Some(input),
        output: quote!(#result<#res, #status>),
        to_metadata: quote!(#rt::tonic::Request::new(#request)),
        from_metadata: quote!(.map(|reply| reply.message)),
        metadata_input,
        metadata_output: quote!(#result<#rt::Reply<#res>, #status>),
        body: quote! {
            let request = #rt::with_timeout(#stream, self.timeout);
            let request = #rt::with_retry(request, #policy);
            #grpc
            #rt::call_with_metadata(grpc, paths::#path_const, request).await
        },
    }
}

/// The docs of a method's main client helper: its pattern and proto name, and why it is
/// named otherwise than the RPC where it is.
fn client_docs(method: &Method) -> TokenStream {
    let summary = format!(
        " {} `{}`.",
        capitalize(method.pattern.label()),
        method.proto_name
    );
    let Some(reason) = &method.client_renamed_because else {
        return quote!(#[doc = #summary]);
    };
    let note = format!(
        " Named `{}`, not `{}` like the RPC `{}`, because {reason}.",
        crate::ident::unraw(&method.client_helper),
        crate::ident::unraw(&method.rust_name),
        method.proto_name
    );
    quote! {
        #[doc = #summary]
        #[doc = ""]
        #[doc = #note]
    }
}

/// The client helper's name for `method`.
fn client_name(method: &Method) -> Result<proc_macro2::Ident, Error> {
    ident(&method.client_helper)
}

/// `let grpc = <clone of the client's tonic client>;`: every helper takes `&self` and calls
/// through a clone (a channel handle and settings), so one client serves many calls at once
/// and a helper always wins method-call syntax over a trait method taking `&self` or
/// `&mut self`.
fn grpc_clone() -> TokenStream {
    quote!(let grpc = ::core::clone::Clone::clone(&self.grpc);)
}

/// The call of `cx`'s method through the client's one tonic client (`grpc`, in scope) with
/// `request`: the headers and the response stream, or the normalised status.
fn open_call(cx: &Context<'_>, request: TokenStream) -> TokenStream {
    let rt = cx.rt;
    let path_const = format_ident!("{}", cx.method.path_const);
    quote!(#rt::open_call(grpc, paths::#path_const, #request).await)
}

/// The policy `cx`'s method's calls carry: its constant in `retry`, unless the client was
/// made `without_retries`.
fn retry_policy(cx: &Context<'_>) -> TokenStream {
    let path_const = format_ident!("{}", cx.method.path_const);
    quote!(retry::#path_const.filter(|_| self.retries))
}

/// One client item pair: a constant and a function.
struct ConstAndFn {
    consts: TokenStream,
    fns: TokenStream,
}

/// The upload helper of a chunk-shaped client-streaming method and its chunk size constant
/// (the proto's option, else the runtime's `DEFAULT_CHUNK_SIZE`); the upload goes through the
/// method's metadata helper, as the plain helper does.
fn upload_helper(cx: &Context<'_>) -> Result<Option<ConstAndFn>, Error> {
    let method = cx.method;
    let (Some(helper), Some(size_const)) = (&method.upload_helper, &method.chunk_size_const) else {
        return Ok(None);
    };
    let rt = cx.rt;
    let Spelling {
        result,
        request: req,
        response: res,
        ..
    } = &cx.types;
    let proto_name = &method.proto_name;
    let helper = ident(helper)?;
    let metadata = metadata_helper(cx)?;
    let deprecated = &cx.deprecated;
    let size_ident = format_ident!("{size_const}");
    let size = match method.options.chunk_size.filter(|&n| n > 0) {
        Some(n) => usize_literal(n as usize).into_token_stream(),
        None => quote!(#rt::DEFAULT_CHUNK_SIZE),
    };
    let size_doc = format!(" Chunk size for `{proto_name}` uploads: the proto's option or 64 KiB.");
    let doc = format!(
        " Client-streaming `{proto_name}` from any reader, in chunks of `chunk_size` bytes (`Self::{size_const}` is the proto's choice), calling `progress` after each chunk."
    );
    Ok(Some(ConstAndFn {
        consts: quote! {
            #[doc = #size_doc]
            pub const #size_ident: usize = #size;
        },
        fns: quote! {
            #[doc = #doc]
            #deprecated
            pub async fn #helper(
                &self,
                reader: impl #rt::AsyncRead + ::core::marker::Send + ::core::marker::Unpin + 'static,
                chunk_size: usize,
                progress: impl ::core::ops::FnMut(#rt::Progress) + ::core::marker::Send + 'static,
            ) -> #result<#res, #rt::UploadError> {
                #rt::upload(reader, chunk_size, progress, |chunks: #rt::BoxStream<#req>| async move {
                    let reply = Self::#metadata(self, #rt::tonic::Request::new(chunks)).await?;
                    ::core::result::Result::Ok(#rt::tonic::Response::new(reply.message))
                })
                .await
            }
        },
    }))
}

/// `s` with its first letter in upper case.
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Unary;
struct ServerStreaming;
struct ClientStreaming;
struct Bidi;

impl PatternEmitter for Unary {
    fn handler_doc(&self) -> &'static str {
        " Unary methods take one request and answer once."
    }

    fn client_doc(&self) -> Option<&'static str> {
        None
    }

    fn shape(&self) -> &'static Shape {
        &Shape {
            inputs: &[REQUEST],
            output: Slot::Response,
        }
    }

    fn adapter(&self, cx: &Context<'_>) -> Result<TokenStream, Error> {
        adapter_fn(cx, quote!(unary), false)
    }

    fn client(&self, cx: &Context<'_>) -> Result<ClientItems, Error> {
        let req = &cx.types.request;
        let shape = single_reply_shape(cx, quote!(request: #req), quote!(request));
        Ok(ClientItems {
            consts: Vec::new(),
            fns: vec![client_helpers(cx, shape)?],
        })
    }

    fn skeleton_body(&self, method: &Method, types: &SkeletonTypes) -> String {
        format!(
            "        let _ = (&ctx, &request);\n\
             \x20       // Look the request up; answer NOT_FOUND for what does not exist, as the\n\
             \x20       // guide's `context.abort(NOT_FOUND, ...)` does.\n\
             {found}\
             \x20       match found {{\n\
             \x20           Some(response) => Ok(response),\n\
             {none}\
             \x20       }}\n",
            found = layout::let_typed(8, "found", &types.optional_response(), "None"),
            none = layout::err_call(
                12,
                "None => ",
                &types.unimplemented(),
                &not_implemented(method, ""),
                ","
            ),
        )
    }
}

impl PatternEmitter for ServerStreaming {
    fn handler_doc(&self) -> &'static str {
        " Server streaming methods send responses to `sink` until done; `sink.send` fails once the client is gone."
    }

    fn client_doc(&self) -> Option<&'static str> {
        Some(
            " Server streaming helpers return the responses: read them with `message()`; drop them to cancel the call.",
        )
    }

    fn shape(&self) -> &'static Shape {
        &Shape {
            inputs: &[REQUEST, SINK],
            output: Slot::Unit,
        }
    }

    fn adapter(&self, cx: &Context<'_>) -> Result<TokenStream, Error> {
        adapter_fn(cx, quote!(server_streaming), false)
    }

    fn client(&self, cx: &Context<'_>) -> Result<ClientItems, Error> {
        let rt = cx.rt;
        let Spelling {
            status,
            result,
            request: req,
            response: res,
            ..
        } = &cx.types;
        let grpc = grpc_clone();
        let policy = retry_policy(cx);
        let call = open_call(cx, quote!(request));
        let shape = ClientShape {
            asyncness: Some(quote!(async)),
            input: Some(quote!(request: #req)),
            output: quote!(#result<#rt::Responses<#res>, #status>),
            to_metadata: quote!(#rt::tonic::Request::new(request)),
            from_metadata: quote!(),
            metadata_input: quote!(request: #rt::tonic::Request<#req>),
            metadata_output: quote!(#result<#rt::Responses<#res>, #status>),
            body: quote! {
                let request = #rt::with_timeout(request.map(#rt::once), self.timeout);
                let request = #rt::with_retry(request, #policy);
                #grpc
                // The responses keep the headers, for `Responses::headers`.
                ::core::result::Result::Ok(::core::convert::Into::into(#call?))
            },
        };
        Ok(ClientItems {
            consts: Vec::new(),
            fns: vec![client_helpers(cx, shape)?],
        })
    }

    fn skeleton_body(&self, method: &Method, types: &SkeletonTypes) -> String {
        format!(
            "        let _ = (&ctx, &request);\n\
             \x20       // Stream until done or until the client goes away.\n\
             \x20       while sink.is_active() {{\n\
             {next}\
             \x20           match next {{\n\
             \x20               Some(response) => sink.send(response).await?,\n\
             \x20               None => break,\n\
             \x20           }}\n\
             \x20       }}\n\
             {end}",
            next = layout::let_typed(12, "next", &types.optional_response(), "None"),
            end = layout::err_call(
                8,
                "",
                &types.unimplemented(),
                &not_implemented(method, ""),
                ""
            ),
        )
    }
}

impl PatternEmitter for ClientStreaming {
    fn handler_doc(&self) -> &'static str {
        " Client streaming methods read `requests` to the end (limits apply) and answer once."
    }

    fn client_doc(&self) -> Option<&'static str> {
        None
    }

    fn shape(&self) -> &'static Shape {
        &Shape {
            inputs: &[REQUESTS],
            output: Slot::Response,
        }
    }

    fn adapter(&self, cx: &Context<'_>) -> Result<TokenStream, Error> {
        adapter_fn(cx, quote!(client_streaming), true)
    }

    fn client(&self, cx: &Context<'_>) -> Result<ClientItems, Error> {
        let rt = cx.rt;
        let req = &cx.types.request;
        let input =
            quote!(requests: impl #rt::Stream<Item = #req> + ::core::marker::Send + 'static);
        let shape = single_reply_shape(cx, input, quote!(requests));
        let mut items = ClientItems {
            consts: Vec::new(),
            fns: vec![client_helpers(cx, shape)?],
        };
        if let Some(upload) = upload_helper(cx)? {
            items.consts.push(upload.consts);
            items.fns.push(upload.fns);
        }
        Ok(items)
    }

    fn skeleton_body(&self, method: &Method, types: &SkeletonTypes) -> String {
        let (read, counted) = if method.request.chunk.is_some() {
            (
                "        // Read the upload chunk by chunk; limits end it with a clear status.\n\
                 \x20       let mut total: u64 = 0;\n\
                 \x20       while let Some(chunk) = requests.chunk().await? {\n\
                 \x20           total += chunk.len() as u64;\n\
                 \x20       }\n",
                " ({total} bytes received)",
            )
        } else {
            (
                "        // Read every message; limits end the stream with a clear status.\n\
                 \x20       let mut count: u64 = 0;\n\
                 \x20       while let Some(request) = requests.message().await? {\n\
                 \x20           let _ = request;\n\
                 \x20           count += 1;\n\
                 \x20       }\n",
                " ({count} messages received)",
            )
        };
        format!(
            "        let _ = &ctx;\n{read}{message}{end}",
            message =
                layout::let_macro_call(8, "message", "format!", &not_implemented(method, counted)),
            end = layout::err_call(8, "", &types.unimplemented(), "message", ""),
        )
    }
}

impl PatternEmitter for Bidi {
    fn handler_doc(&self) -> &'static str {
        " Bidirectional methods read `requests` and send to `sink`, independently."
    }

    fn client_doc(&self) -> Option<&'static str> {
        Some(
            " Bidirectional helpers return at once: send on the first half while reading the second. The call starts in its own task, so servers that send headers only with their first response work.",
        )
    }

    fn shape(&self) -> &'static Shape {
        &Shape {
            inputs: &[REQUESTS, SINK],
            output: Slot::Unit,
        }
    }

    fn adapter(&self, cx: &Context<'_>) -> Result<TokenStream, Error> {
        adapter_fn(cx, quote!(bidi_streaming), true)
    }

    fn client(&self, cx: &Context<'_>) -> Result<ClientItems, Error> {
        let rt = cx.rt;
        let method = cx.method;
        let Spelling {
            request: req,
            response: res,
            ..
        } = &cx.types;
        let grpc = grpc_clone();
        // The client's request buffer: the proto's `buffer` or the runtime's default.
        let buffer = match method.options.buffer {
            Some(buffer) => usize_literal(buffer.max(1) as usize).into_token_stream(),
            None => quote!(#rt::CallConfig::DEFAULT.buffer),
        };
        let call = open_call(
            cx,
            quote!(#rt::with_retry(
                #rt::with_timeout(
                    #rt::tonic::Request::from_parts(metadata, ::core::default::Default::default(), requests),
                    timeout,
                ),
                policy,
            )),
        );
        let policy = retry_policy(cx);
        let halves = quote!((#rt::Requests<#req>, #rt::Responses<#res>));
        let shape = ClientShape {
            asyncness: None,
            input: None,
            output: halves.clone(),
            to_metadata: quote!(::core::default::Default::default()),
            from_metadata: quote!(),
            metadata_input: quote!(metadata: #rt::tonic::metadata::MetadataMap),
            metadata_output: halves,
            body: quote! {
                #grpc
                let timeout = self.timeout;
                let policy = #policy;
                #rt::bidi(#buffer, move |requests| async move { #call })
            },
        };
        Ok(ClientItems {
            consts: Vec::new(),
            fns: vec![client_helpers(cx, shape)?],
        })
    }

    fn skeleton_body(&self, method: &Method, types: &SkeletonTypes) -> String {
        format!(
            "        let _ = &ctx;\n\
             \x20       // Receive and respond; the two directions are independent.\n\
             \x20       while let Some(request) = requests.message().await? {{\n\
             {response}\
             \x20           let _ = request;\n\
             \x20           if let Some(response) = response {{\n\
             \x20               sink.send(response).await?;\n\
             \x20           }}\n\
             \x20       }}\n\
             {end}",
            response = layout::let_typed(12, "response", &types.optional_response(), "None"),
            end = layout::err_call(
                8,
                "",
                &types.unimplemented(),
                &not_implemented(method, ""),
                ""
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_conventions_follow_clippy() {
        for (name, breaks) in [
            ("into_x", true),
            ("from_x", true),
            ("to_x", false),
            ("to_mut", true),
            ("to_x_mut", true),
            ("as_ref", false),
            ("as_mut", false),
            ("is_x", false),
            ("into", false),
            ("from", false),
            ("r#into_x", true),
        ] {
            assert_eq!(breaks_self_convention(name), breaks, "{name}");
        }
    }
}
