//! What the derive emits when it reports errors: the errors, inside a module of their own,
//! and whatever the user's code expects but could not be generated, so that the user sees
//! the real errors and not one more for every use of the missing items.
//!
//! rustc reports no error for a path into a module whose expansion failed (one holding a
//! `compile_error!`), and none for any later use of a name imported that way. So the
//! generated module, if it could not be made, is a `use` of a name from the errors'
//! module, and every path through it is silent (`use guide_proto::a::b::C`); the struct's
//! `impl StreamService`, if it could not be made, uses such a name for each type and
//! value, so calls of its methods (`Guide.serve(..)`) are silent too.

use crate::attr::Options;
use crate::expand::Expansion;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Ident};

/// The expansion after errors: `expanded` (what could be made, if anything), the errors,
/// and placeholders for what is missing.
pub fn expand(
    input: &DeriveInput,
    options: &Options,
    module: &Ident,
    expanded: Option<Expansion>,
    error: &syn::Error,
) -> TokenStream {
    let errors_module = format_ident!("__{}_errors", module);
    let errors = error.to_compile_error();
    let mut out = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code)]
        mod #errors_module {
            #errors
        }
    };
    let served = expanded.as_ref().is_some_and(|e| e.served);
    match expanded {
        Some(expanded) => out.extend(expanded.code),
        None => {
            let vis = &input.vis;
            out.extend(quote! {
                #[allow(unused_imports)]
                #vis use #errors_module::#module;
            });
        }
    }
    if options.serve && !served {
        out.extend(unserved(input, options, &errors_module));
    }
    out
}

/// `impl StreamService` for the struct with every item a name from the errors' module.
fn unserved(input: &DeriveInput, options: &Options, errors_module: &Ident) -> TokenStream {
    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::rust_stream));
    let ty = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics #krate::codegen::StreamService for #ty #ty_generics #where_clause {
            type Server = #errors_module::Unavailable;
            type Config = #errors_module::Unavailable;
            const TUNING: #krate::codegen::Tuning = #errors_module::Unavailable;
            fn server_from_arc(
                _: ::std::sync::Arc<Self>,
                _: Self::Config,
            ) -> Self::Server {
                #errors_module::Unavailable
            }
        }
    }
}
