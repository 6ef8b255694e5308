//! What the derive emits when the protos cannot be read or the attribute is unusable: an
//! empty module of the expected name, so that the user sees the real error and not one
//! more for every path into a module that does not exist.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, Ident};

/// The placeholder for `input`'s module.
pub fn expand(input: &DeriveInput, module: &Ident) -> TokenStream {
    let vis = &input.vis;
    quote! {
        #[allow(missing_docs)]
        #vis mod #module {}
    }
}
