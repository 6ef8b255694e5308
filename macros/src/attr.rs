//! The `#[stream_service(...)]` attribute: every key parsed, every problem collected.

use proc_macro2::Span;
use rust_stream_build::{Params, parameters};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Token};

/// The name of the attribute.
pub const ATTRIBUTE: &str = "stream_service";

/// Keys of the derive itself; the generator's parameters follow them.
const OWN_KEYS: &[&str] = &["proto", "include", "service", "module", "crate", "serve"];

/// Generator parameters the derive does not take: the runtime path is `crate = ".."`, the
/// derive always emits messages and tonic's code (its glue needs them), and it writes no
/// files.
const EXCLUDED_PARAMETERS: &[&str] = &["runtime_path", "stream_only", "include_file"];

/// A string value and where it was written.
#[derive(Clone, Debug)]
pub struct Located {
    /// The value.
    pub value: String,
    /// The literal's span.
    pub span: Span,
}

/// What the attribute says.
#[derive(Debug)]
pub struct Options {
    /// `proto = ".."`, in order, relative to `CARGO_MANIFEST_DIR`: a file, or a directory
    /// standing for every `.proto` file below it.
    pub protos: Vec<Located>,
    /// `include = ".."`, in order, relative to `CARGO_MANIFEST_DIR`.
    pub includes: Vec<Located>,
    /// `service = ".."`: the service's proto name or fully qualified name.
    pub service: Option<Located>,
    /// `module = ".."`: the module holding the generated code.
    pub module: Option<Ident>,
    /// `crate = ".."`: the runtime's path.
    pub krate: Option<syn::Path>,
    /// `serve = false`: generate the code only, without serving the struct as a service
    /// (for a crate serving several services through the generated `Handlers`).
    pub serve: bool,
    /// The generator's parameters, `crate` included as `runtime_path`.
    pub params: Params,
    /// Where the attribute is, for errors about it as a whole.
    pub span: Span,
}

impl Options {
    /// The protos as written, for messages: `` `a.proto`, `b.proto` ``.
    pub fn proto_list(&self) -> String {
        let quoted: Vec<String> = self
            .protos
            .iter()
            .map(|p| format!("`{}`", p.value))
            .collect();
        quoted.join(", ")
    }
}

/// Every key the attribute takes, in the order errors list them.
pub fn valid_keys() -> Vec<&'static str> {
    OWN_KEYS
        .iter()
        .copied()
        .chain(
            parameters()
                .map(|p| p.name)
                .filter(|name| !EXCLUDED_PARAMETERS.contains(name)),
        )
        .collect()
}

/// Collects errors so that all of them are reported at once (serde's `Ctxt`).
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Records `error`.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records a message at `span`.
    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// The errors, if any.
    pub fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

/// Parses every `#[stream_service(..)]` on the item (`derive_span` locates the error when
/// there is none). Problems go to `errors`; what parsed is returned all the same, so
/// the expansion can go on as far as it can.
pub fn parse(attrs: &[Attribute], derive_span: Span, errors: &mut Errors) -> Options {
    let mut options = Options {
        protos: Vec::new(),
        includes: Vec::new(),
        service: None,
        module: None,
        krate: None,
        serve: true,
        params: Params::default(),
        span: derive_span,
    };
    let ours: Vec<&Attribute> = attrs
        .iter()
        .filter(|a| a.path().is_ident(ATTRIBUTE))
        .collect();
    if let Some(first) = ours.first() {
        options.span = first.span();
    }
    for attr in &ours {
        let parsed = attr.parse_nested_meta(|meta| {
            key(&meta, &mut options, errors);
            Ok(())
        });
        if let Err(err) = parsed {
            errors.push(err);
        }
    }
    if options.protos.is_empty() {
        errors.at(
            options.span,
            format!(
                "#[derive(StreamService)] needs the proto file: \
                 #[{ATTRIBUTE}(proto = \"proto/my_service.proto\")] (relative to CARGO_MANIFEST_DIR)"
            ),
        );
    }
    if let Err(err) = options.params.check() {
        errors.at(options.span, err);
    }
    options
}

/// Reads one `key = value`, recording any problem with it and consuming its value either way.
fn key(meta: &ParseNestedMeta<'_>, options: &mut Options, errors: &mut Errors) {
    let path = &meta.path;
    let name = path
        .get_ident()
        .map(Ident::to_string)
        .unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""));
    let span = path.span();
    let valid = valid_keys();
    if !valid.contains(&name.as_str()) {
        errors.at(
            span,
            format!(
                "unknown key `{name}` in #[{ATTRIBUTE}]; valid keys: {}",
                valid.join(", ")
            ),
        );
        // Consumed so that the keys after it are read; the key itself is the problem.
        let _ = value(meta);
        return;
    }
    let value = match value(meta) {
        Ok(value) => value,
        Err(err) => {
            errors.push(err);
            return;
        }
    };
    let Some(value) = value else {
        errors.at(span, format!("`{name}` needs a value: `{name} = ...`"));
        return;
    };
    let string = |errors: &mut Errors| match &value {
        syn::Lit::Str(s) => Some(Located {
            value: s.value(),
            span: s.span(),
        }),
        other => {
            errors.at(
                other.span(),
                format!("`{name}` takes a string: `{name} = \"...\"`"),
            );
            None
        }
    };
    let once = |taken: bool, errors: &mut Errors| {
        if taken {
            errors.at(span, format!("`{name}` is given twice"));
        }
        !taken
    };
    match name.as_str() {
        "proto" => options.protos.extend(string(errors)),
        "include" => options.includes.extend(string(errors)),
        "service" => {
            if once(options.service.is_some(), errors) {
                options.service = string(errors);
            }
        }
        "module" => {
            if once(options.module.is_some(), errors)
                && let Some(s) = string(errors)
            {
                match syn::parse_str::<Ident>(&s.value) {
                    Ok(ident) => options.module = Some(Ident::new(&ident.to_string(), s.span)),
                    Err(_) => errors.at(
                        s.span,
                        format!("`module` takes a Rust identifier, not `{}`", s.value),
                    ),
                }
            }
        }
        "serve" => match &value {
            syn::Lit::Bool(b) => options.serve = b.value,
            other => errors.at(
                other.span(),
                "`serve` takes a bool: `serve = false` generates the code without serving the struct",
            ),
        },
        "crate" => {
            if once(options.krate.is_some(), errors)
                && let Some(s) = string(errors)
            {
                // The generator checks the path as it checks `runtime_path=`.
                match options.params.set("runtime_path", Some(&s.value)) {
                    Ok(()) => options.krate = syn::parse_str::<syn::Path>(&s.value).ok(),
                    Err(problem) => errors.at(
                        s.span,
                        problem.replace("parameter `runtime_path`", "`crate`"),
                    ),
                }
            }
        }
        parameter => {
            let text = match &value {
                syn::Lit::Str(s) => Some(s.value()),
                syn::Lit::Int(i) => Some(i.base10_digits().to_owned()),
                syn::Lit::Bool(b) => Some(b.value.to_string()),
                _ => None,
            };
            match text {
                Some(text) => {
                    if let Err(problem) = options.params.set(parameter, Some(&text)) {
                        errors.at(value.span(), problem);
                    }
                }
                None => errors.at(
                    value.span(),
                    format!("`{name}` takes a string, an integer or a bool"),
                ),
            }
        }
    }
}

/// The literal after `=`, `None` for a bare key. Anything else is an error; it is consumed up
/// to the next comma so that the keys after it are still read.
fn value(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<syn::Lit>> {
    let input = meta.input;
    if input.is_empty() || input.peek(Token![,]) {
        return Ok(None);
    }
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        let fork = input.fork();
        if fork.parse::<syn::Lit>().is_ok() && (fork.is_empty() || fork.peek(Token![,])) {
            return input.parse::<syn::Lit>().map(Some);
        }
    }
    // Not `key = literal`: skip to the next key and say what was expected.
    let start = input.span();
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    let path = &meta.path;
    Err(syn::Error::new(
        start,
        format!(
            "expected `{} = \"...\"` (a literal value)",
            quote::quote!(#path).to_string().replace(' ', "")
        ),
    ))
}
