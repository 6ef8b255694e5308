//! The items at the root of a run's module tree, next to the package modules: every
//! service served together and the protos described for reflection.
//!
//! - `SERVICES`: the fully qualified name of every service, as health checks and
//!   reflection name them;
//! - `FILE_DESCRIPTOR_SET`: the encoded descriptors of the protos and their imports, with
//!   source info, what a reflection service serves;
//! - `Handlers`: one handler per service in a field of its own, and `into_router()`, the
//!   tuned server with every service added. A service added to the protos is a new field,
//!   so code that builds `Handlers` stops compiling until it names the new handler.
//!
//! The include file and the derive's module hold them; a crate generated from the template
//! serves `Handlers` without a line that depends on its protos.

use crate::emit::stream::Paths;
use crate::emit::{ident, rust_type};
use crate::error::Error;
use crate::ident as names;
use crate::model::{Method, Model, Package, Pattern, Service};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// What the root holds besides the names and the descriptors.
pub struct RootOptions<'a> {
    /// The type names the protos without a package already put at the root (`Handlers`
    /// gives way to them).
    pub root_types: &'a [String],
    /// Emit `rpc_tests!`.
    pub rpc_tests: bool,
    /// The services' test harnesses are emitted (`answer_default` and `rpc_tests!` use them).
    pub harness: bool,
}

/// The root items for `model`, with `descriptor_set` encoded; `root_types` are the type names the protos without a
/// package already put at the root (`Handlers` gives way to them).
pub fn root_items(
    model: &Model,
    options: &RootOptions<'_>,
    descriptor_set: &[u8],
    paths: &Paths,
) -> Result<TokenStream, Error> {
    let services: Vec<(&Package, &Service)> = model.services().collect();
    let names: Vec<&str> = services.iter().map(|(_, s)| s.full_name.as_str()).collect();
    // One literal token: compact, whatever the size of the set.
    let bytes = Literal::byte_string(descriptor_set);
    let handlers = if services.is_empty() {
        TokenStream::new()
    } else {
        handlers(&services, &model.handler_modules(), options, paths)?
    };
    Ok(quote! {
        /// The fully qualified name of every service, as health checks and reflection name
        /// them.
        pub const SERVICES: &[&str] = &[#(#names),*];
        /// The encoded `FileDescriptorSet` of the protos and their imports, source info
        /// included: what a reflection service serves.
        pub const FILE_DESCRIPTOR_SET: &[u8] = #bytes;
        #handlers
    })
}

/// `Handlers`, its `into_router` and `answer_default`, and `rpc_tests!` if asked for.
fn handlers(
    services: &[(&Package, &Service)],
    modules: &[String],
    options: &RootOptions<'_>,
    paths: &Paths,
) -> Result<TokenStream, Error> {
    let root_types = options.root_types;
    let rt = &paths.codegen;
    let param_names = type_params(modules);
    let struct_name = ident(&struct_name(modules, root_types))?;
    let fields = idents(modules.iter().map(|module| names::to_snake(module)))?;
    let params = idents(param_names.iter().cloned())?;
    let mut bounds = Vec::new();
    let mut adds = Vec::new();
    let mut docs = Vec::new();
    for ((package, service), field) in services.iter().zip(&fields) {
        let stream = stream_module(package, service)?;
        let handler = ident(&service.handler_trait)?;
        let adapter = ident(&service.adapter)?;
        bounds.push(quote!(#stream::#handler));
        adds.push(quote!(.add_service(#stream::#adapter::new(self.#field).into_server())));
        docs.push(format!(" The handler of `{}`.", service.full_name));
    }
    let answer_default = if options.harness {
        answer_default(services, &fields, paths)?
    } else {
        TokenStream::new()
    };
    let tests = if options.rpc_tests && options.harness {
        rpc_tests(services, modules, paths)?
    } else {
        TokenStream::new()
    };
    let first = stream_module(services[0].0, services[0].1)?;
    let doc = format!(
        " One handler per service, served together by [`{struct_name}::into_router`]: the \
         tuned server of `{}` (the first service) with every service added.",
        services[0].1.full_name
    );
    Ok(quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, Default)]
        pub struct #struct_name<#(#params),*> {
            #(#[doc = #docs] pub #fields: #params,)*
        }
        // A deprecated service is still served and tested.
        #[allow(deprecated)]
        impl<#(#params: #bounds),*> #struct_name<#(#params),*> {
            /// The server with every service added, each with its proto's configuration;
            /// add more services (health, reflection) and serve it.
            pub fn into_router(self) -> #rt::TunedRouter {
                #first::server_builder() #(#adds)*
            }

            #answer_default
        }
        #tests
    })
}

/// Each of `names` as an identifier.
fn idents(names: impl Iterator<Item = String>) -> Result<Vec<proc_macro2::Ident>, Error> {
    names.map(|name| ident(&name)).collect()
}

/// `answer_default`, which serves each handler (in the field of `fields` of its service)
/// with its service's test harness and calls the method asked for.
fn answer_default(
    services: &[(&Package, &Service)],
    fields: &[proc_macro2::Ident],
    paths: &Paths,
) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let mut arms = Vec::new();
    for ((package, service), field) in services.iter().zip(fields) {
        let stream = stream_module(package, service)?;
        for method in &service.methods {
            let path = &method.grpc_path;
            let call = default_call(method, paths)?;
            arms.push(quote! {
                #path => {
                    let (client, _server) = #stream::test_server(self.#field).await?;
                    ::core::result::Result::Ok(#call)
                }
            });
        }
    }
    Ok(quote! {
            /// Calls `method` (its gRPC path, `/pkg.Service/Method`) with a default request
            /// over a real socket, its service's handler served by the service's test
            /// harness, and returns how it answered: what the per-RPC tests check.
            pub async fn answer_default(
                self,
                method: &str,
            ) -> ::core::result::Result<
                #rt::Answer,
                ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>,
            > {
                match method {
                    #(#arms)*
                    _ => ::core::result::Result::Err(::std::format!("no RPC {method}").into()),
                }
            }
    })
}

/// The call of `method` on a tuned client named `client` with a default request, and how
/// it answered.
fn default_call(method: &Method, paths: &Paths) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let name = ident(&method.client_helper)?;
    // `google.protobuf.Empty` is `()`: written as such (clippy's `unit_arg`).
    let default = if method.request.rust_path == "()" {
        quote!(())
    } else {
        quote!(::core::default::Default::default())
    };
    Ok(match method.pattern {
        Pattern::Unary => quote!(#rt::answer_once(client.#name(#default)).await),
        Pattern::ServerStreaming => quote!(#rt::answer_stream(client.#name(#default)).await),
        Pattern::ClientStreaming => {
            quote!(#rt::answer_once(client.#name(#rt::once(#default))).await)
        }
        Pattern::Bidi => quote! {{
            let (requests, responses) = client.#name();
            // A handler may end before reading: the send's outcome is not the answer.
            let _ = requests.send(#default).await;
            ::core::mem::drop(requests);
            #rt::answer_stream(async { ::core::result::Result::Ok(responses) }).await
        }},
    })
}

/// `rpc_tests!(handlers)`: one `#[test]` per RPC, named after the service's handler module
/// and the method (`ingest_record`).
fn rpc_tests(
    services: &[(&Package, &Service)],
    modules: &[String],
    paths: &Paths,
) -> Result<TokenStream, Error> {
    let rt = &paths.codegen;
    let mut taken = std::collections::BTreeSet::new();
    let mut tests = Vec::new();
    for ((_, service), module) in services.iter().zip(modules) {
        for method in &service.methods {
            let suffix = format!("_{}", names::unraw(&method.rust_name));
            let name = ident(&names::claim(names::compose(module, &suffix), &mut taken))?;
            let path = &method.grpc_path;
            let doc = format!(
                " `{path}` ({}) answers a default request over a real socket.",
                method.pattern.label()
            );
            tests.push(quote! {
                #[doc = #doc]
                #[test]
                fn #name() {
                    #rt::assert_answers(#path, async { ($handlers).answer_default(#path).await });
                }
            });
        }
    }
    Ok(quote! {
        /// Writes one `#[test]` per RPC, for a file in `tests/`:
        /// `rpc_tests!(my_crate::handlers::all());`, given an expression that builds the
        /// `Handlers` to test. Each test calls its RPC with a default request over a real
        /// socket and passes if a handler answered: OK, any status the handler chose, a
        /// stub's `UNIMPLEMENTED`, or a stream that stays open. It fails if the server was
        /// not reached, the handler panicked, or nothing answered.
        #[macro_export]
        macro_rules! rpc_tests {
            ($handlers:expr) => {
                #(#tests)*
            };
        }
    })
}

/// The generic parameters of `Handlers`, one per handler module.
fn type_params(modules: &[String]) -> Vec<String> {
    modules.iter().map(|m| names::to_upper_camel(m)).collect()
}

/// The name of `Handlers` for services with handler modules `modules`
/// ([`names::handler_modules`]), given the type names already at the root.
pub fn struct_name(modules: &[String], root_types: &[String]) -> String {
    let taken: Vec<String> = root_types
        .iter()
        .cloned()
        .chain(type_params(modules))
        .collect();
    names::handlers_struct(&taken)
}

/// The path from the root to the service's stream module (`a::v1::event_stream`).
fn stream_module(package: &Package, service: &Service) -> Result<TokenStream, Error> {
    let mut path = package.module.clone();
    path.push(service.stream_module.clone());
    rust_type(&path.join("::"), false)
}
