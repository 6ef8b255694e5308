//! A public-API lister that reads a crate's source with `syn`, so it runs on stable Rust.
//!
//! It takes a crate's `src/lib.rs` and gives one line per public path: every item reachable
//! through `pub mod`s and `pub use`s (followed through private modules and re-export chains),
//! with its signature, its public fields, variants and inherent methods, and the traits it
//! implements by `impl` or `#[derive]`. The view is the `--all-features` one on a Unix
//! target (`cfg(test)` and `cfg(doc)` off). An item reachable by several paths is spelled
//! in full at its canonical path (not hidden, then shortest) and as `pub use PATH =
//! CANONICAL` elsewhere. Lines under `#[doc(hidden)]` are listed in a section of their own.
//!
//! Limits, by design of a source-level reader: items written by a declarative macro are
//! listed only by the `pub struct|enum|fn|...` names found in the invocation; auto traits
//! (`Send`, `Sync`, `Unpin`) are not listed; types are spelled as written in the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::{Attribute, Fields, ImplItem, Item, Meta, Token, TraitItem, UseTree, Visibility};

/// A module's place in its crate: the names from the crate root (empty for the root).
type ModPath = Vec<String>;

/// What a path in the crate leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// An item named `.1` defined in module `.0`.
    Item(ModPath, String),
    /// A module of this crate.
    Module(ModPath),
    /// A path into another crate, spelled out.
    External(String),
}

/// One public path and what it leads to.
struct Export {
    path: String,
    target: Option<Target>,
    written: String,
    hidden: bool,
}

/// One line of the listing with what orders it.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    hidden: bool,
    key: String,
    rank: u8,
    text: String,
}

/// A crate's modules, read from source.
pub struct Crate {
    name: String,
    modules: BTreeMap<ModPath, Vec<Item>>,
}

/// An error reading a crate's source.
pub type ReadError = Box<dyn std::error::Error>;

impl Crate {
    /// Reads the crate whose root is `lib_rs`, naming its paths `name::...`.
    pub fn read(name: &str, lib_rs: &Path) -> Result<Crate, ReadError> {
        let mut krate = Crate {
            name: name.to_owned(),
            modules: BTreeMap::new(),
        };
        let dir = lib_rs.parent().unwrap_or(Path::new(".")).to_path_buf();
        krate.read_file(Vec::new(), lib_rs, dir)?;
        Ok(krate)
    }

    fn read_file(&mut self, path: ModPath, file: &Path, dir: PathBuf) -> Result<(), ReadError> {
        let text =
            std::fs::read_to_string(file).map_err(|err| format!("{}: {err}", file.display()))?;
        let parsed = syn::parse_file(&text).map_err(|err| format!("{}: {err}", file.display()))?;
        self.add_module(path, parsed.items, &dir)
    }

    fn add_module(&mut self, path: ModPath, items: Vec<Item>, dir: &Path) -> Result<(), ReadError> {
        let items: Vec<Item> = items
            .into_iter()
            .flat_map(expand_item_macro)
            .filter(|item| enabled(attrs_of(item)))
            .collect();
        for item in &items {
            let Item::Mod(module) = item else { continue };
            let mut child = path.clone();
            child.push(module.ident.to_string());
            let child_dir = dir.join(module.ident.to_string());
            match &module.content {
                Some((_, inner)) => self.add_module(child, inner.clone(), &child_dir)?,
                None => {
                    let flat = dir.join(format!("{}.rs", module.ident));
                    let file = if flat.exists() {
                        flat
                    } else {
                        child_dir.join("mod.rs")
                    };
                    self.read_file(child, &file, child_dir)?;
                }
            }
        }
        self.modules.insert(path, items);
        Ok(())
    }

    /// The listing: a header, the public lines, then the `#[doc(hidden)]` ones.
    pub fn listing(&self) -> String {
        let mut exports = Vec::new();
        self.walk(
            &Vec::new(),
            &self.name,
            false,
            &mut exports,
            &mut BTreeSet::new(),
        );
        let mut lines = BTreeSet::new();
        self.macro_lines(&mut lines);
        self.add_invocations(&mut lines, &Vec::new(), &self.name, false);
        let mut by_target: BTreeMap<Target, Vec<&Export>> = BTreeMap::new();
        for export in &exports {
            match &export.target {
                Some(target @ Target::Item(..)) => {
                    by_target.entry(target.clone()).or_default().push(export)
                }
                Some(Target::Module(module)) => {
                    add(
                        &mut lines,
                        export.hidden,
                        &export.path,
                        0,
                        format!("pub mod {}", export.path),
                    );
                    self.add_invocations(&mut lines, module, &export.path, export.hidden);
                }
                Some(Target::External(path)) => add(
                    &mut lines,
                    export.hidden,
                    &export.path,
                    0,
                    format!("pub use {} = {path}", export.path),
                ),
                None => add(
                    &mut lines,
                    export.hidden,
                    &export.path,
                    0,
                    format!("pub use {} = {} (unresolved)", export.path, export.written),
                ),
            }
        }
        for (target, paths) in by_target {
            let Target::Item(module, name) = &target else {
                continue;
            };
            let canonical = paths
                .iter()
                .min_by_key(|export| {
                    (
                        export.hidden,
                        export.path.matches("::").count(),
                        export.path.clone(),
                    )
                })
                .expect("every target has a path");
            for export in &paths {
                if export.path != canonical.path {
                    let text = format!("pub use {} = {}", export.path, canonical.path);
                    add(&mut lines, export.hidden, &export.path, 0, text);
                }
            }
            self.item_lines(module, name, &canonical.path, canonical.hidden, &mut lines);
        }
        render(&self.name, lines)
    }

    /// Records every public path under module `module`, spelled from `public`.
    fn walk(
        &self,
        module: &ModPath,
        public: &str,
        hidden: bool,
        out: &mut Vec<Export>,
        seen: &mut BTreeSet<(ModPath, String)>,
    ) {
        if !seen.insert((module.clone(), public.to_owned())) {
            return;
        }
        for item in self.modules.get(module).into_iter().flatten() {
            if !is_pub(item) || is_proc_macro(item) {
                continue;
            }
            let hidden = hidden || doc_hidden(attrs_of(item));
            match item {
                Item::Use(item_use) => {
                    for leaf in
                        use_leaves(&item_use.tree, Vec::new(), item_use.leading_colon.is_some())
                    {
                        self.export_use(module, public, hidden, leaf, out, seen);
                    }
                }
                Item::Mod(inner) => {
                    let path = format!("{public}::{}", inner.ident);
                    let mut child = module.clone();
                    child.push(inner.ident.to_string());
                    out.push(Export {
                        path: path.clone(),
                        target: Some(Target::Module(child.clone())),
                        written: String::new(),
                        hidden,
                    });
                    self.walk(&child, &path, hidden, out, seen);
                }
                _ => {
                    if let Some(name) = item_name(item) {
                        let target = Some(Target::Item(module.clone(), name.clone()));
                        out.push(Export {
                            path: format!("{public}::{name}"),
                            target,
                            written: String::new(),
                            hidden,
                        });
                    }
                }
            }
        }
    }

    fn export_use(
        &self,
        module: &ModPath,
        public: &str,
        hidden: bool,
        leaf: UseLeaf,
        out: &mut Vec<Export>,
        seen: &mut BTreeSet<(ModPath, String)>,
    ) {
        let written = leaf.path.join("::");
        let target = self.resolve_path(module, &leaf.path, 0);
        let Some(alias) = leaf.alias else {
            match target {
                Some(Target::Module(inner)) => self.walk(&inner, public, hidden, out, seen),
                _ => out.push(Export {
                    path: format!("{public}::*"),
                    target,
                    written: format!("{written}::*"),
                    hidden,
                }),
            }
            return;
        };
        let path = format!("{public}::{alias}");
        if let Some(Target::Module(inner)) = &target {
            self.walk(inner, &path, hidden, out, seen);
        }
        out.push(Export {
            path,
            target,
            written,
            hidden,
        });
    }

    /// Where `path`, written in module `from`, leads.
    fn resolve_path(&self, from: &ModPath, path: &[String], depth: usize) -> Option<Target> {
        let (first, rest) = path.split_first()?;
        let mut current = match first.as_str() {
            "crate" => Target::Module(Vec::new()),
            "self" => Target::Module(from.clone()),
            "super" => Target::Module(parent(from)),
            "::" => Target::External(rest.join("::")),
            _ => self
                .resolve_name(from, first, depth, rest.is_empty())
                .unwrap_or_else(|| Target::External(first.clone())),
        };
        if first == "::" {
            return Some(current);
        }
        for (index, segment) in rest.iter().enumerate() {
            let last = index + 1 == rest.len();
            current = match current {
                Target::Module(module) => match segment.as_str() {
                    "super" => Target::Module(parent(&module)),
                    "self" => Target::Module(module),
                    _ => self.resolve_name(&module, segment, depth, last)?,
                },
                Target::External(outer) => Target::External(format!("{outer}::{segment}")),
                Target::Item(..) => return None,
            };
        }
        Some(current)
    }

    /// What `name` means inside `module`: an item there, a `use` there, or a glob's item.
    /// A path's last segment prefers anything over a private module of the same name
    /// (`mod upload; pub use upload::upload;`), the others prefer modules.
    fn resolve_name(
        &self,
        module: &ModPath,
        name: &str,
        depth: usize,
        last: bool,
    ) -> Option<Target> {
        if depth > 32 {
            return None;
        }
        let candidates = self.candidates(module, name, depth);
        let preferred = candidates
            .iter()
            .find(|(target, public_module)| match target {
                Target::Module(_) => !last || *public_module,
                _ => last,
            });
        preferred
            .or(candidates.first())
            .map(|(target, _)| target.clone())
    }

    /// Every meaning of `name` inside `module`, each with whether it is a `pub mod`.
    fn candidates(&self, module: &ModPath, name: &str, depth: usize) -> Vec<(Target, bool)> {
        let Some(items) = self.modules.get(module) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for item in items {
            match item {
                Item::Mod(inner) if inner.ident == name => {
                    let mut child = module.clone();
                    child.push(name.to_owned());
                    let public = matches!(inner.vis, Visibility::Public(_));
                    found.push((Target::Module(child), public));
                }
                Item::Use(_) | Item::Impl(_) => {}
                _ if item_name(item).as_deref() == Some(name) => {
                    found.push((Target::Item(module.clone(), name.to_owned()), false));
                }
                _ => {}
            }
        }
        let leaves: Vec<UseLeaf> = items
            .iter()
            .filter_map(|item| match item {
                Item::Use(item_use) => Some(use_leaves(
                    &item_use.tree,
                    Vec::new(),
                    item_use.leading_colon.is_some(),
                )),
                _ => None,
            })
            .flatten()
            .collect();
        for leaf in leaves
            .iter()
            .filter(|leaf| leaf.alias.as_deref() == Some(name))
        {
            found.extend(
                self.resolve_path(module, &leaf.path, depth + 1)
                    .map(|target| (target, true)),
            );
        }
        for leaf in leaves.iter().filter(|leaf| leaf.alias.is_none()) {
            if let Some(Target::Module(inner)) = self.resolve_path(module, &leaf.path, depth + 1)
                && &inner != module
            {
                found.extend(self.candidates(&inner, name, depth + 1));
            }
        }
        found
    }

    /// The lines for item `name` of `module`, listed at `public`.
    fn item_lines(
        &self,
        module: &ModPath,
        name: &str,
        public: &str,
        hidden: bool,
        lines: &mut BTreeSet<Line>,
    ) {
        let items = self.modules.get(module).into_iter().flatten();
        for item in items.filter(|item| item_name(item).as_deref() == Some(name)) {
            let hidden = hidden || doc_hidden(attrs_of(item));
            for (rank, key, text) in definition_lines(item, public) {
                add(lines, hidden, &key, rank, text);
            }
            for derived in derives(attrs_of(item)) {
                add(
                    lines,
                    hidden,
                    public,
                    2,
                    format!("impl {derived} for {public}"),
                );
            }
        }
        let target = Target::Item(module.clone(), name.to_owned());
        for (impl_module, item_impl) in self.impls() {
            let Some(self_path) = type_path(&item_impl.self_ty) else {
                continue;
            };
            if self.resolve_path(&impl_module, &self_path, 0).as_ref() != Some(&target) {
                continue;
            }
            impl_lines(item_impl, public, hidden, lines);
        }
    }

    /// Every `impl` block of the crate with the module it is written in.
    fn impls(&self) -> impl Iterator<Item = (ModPath, &syn::ItemImpl)> {
        self.modules.iter().flat_map(|(module, items)| {
            items.iter().filter_map(move |item| match item {
                Item::Impl(item_impl) => Some((module.clone(), item_impl)),
                _ => None,
            })
        })
    }

    /// Procedural macros, which live at the crate root whatever module defines them.
    fn macro_lines(&self, lines: &mut BTreeSet<Line>) {
        for item in self.modules.values().flatten() {
            let Item::Fn(function) = item else { continue };
            for attr in &function.attrs {
                let kind = attr
                    .path()
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let Some(line) = proc_macro_line(&self.name, &kind, attr, &function.sig.ident)
                else {
                    continue;
                };
                let key = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                add(lines, doc_hidden(&function.attrs), &key, 0, line);
            }
        }
    }
}

/// A macro invocation whose input is itself items (`pin_project! { pub struct .. }`) as those
/// items; any other item as it is.
fn expand_item_macro(item: Item) -> Vec<Item> {
    if let Item::Macro(invocation) = &item
        && invocation.ident.is_none()
        && let Ok(file) = syn::parse2::<syn::File>(invocation.mac.tokens.clone())
        && !file.items.is_empty()
    {
        return file.items;
    }
    vec![item]
}

/// Whether a function is a procedural macro's, which is not callable from outside.
fn is_proc_macro(item: &Item) -> bool {
    let Item::Fn(function) = item else {
        return false;
    };
    function.attrs.iter().any(|attr| {
        ["proc_macro", "proc_macro_derive", "proc_macro_attribute"]
            .iter()
            .any(|kind| attr.path().is_ident(kind))
    })
}

/// The line for a procedural macro `kind` (`proc_macro`, `proc_macro_derive`, ...).
fn proc_macro_line(
    krate: &str,
    kind: &str,
    attr: &Attribute,
    function: &syn::Ident,
) -> Option<String> {
    match kind {
        "proc_macro" => Some(format!("macro {krate}::{function}!")),
        "proc_macro_attribute" => Some(format!("attribute {krate}::{function}")),
        "proc_macro_derive" => {
            let args = attr.meta.require_list().ok()?.tokens.to_string();
            let (derive, helpers) = args.split_once(',').unwrap_or((&args, ""));
            let helpers = helpers.trim();
            let helpers = if helpers.is_empty() {
                String::new()
            } else {
                format!(" with {}", helpers.replace(" (", "("))
            };
            Some(format!("derive {krate}::{}{helpers}", derive.trim()))
        }
        _ => None,
    }
}

/// A leaf of a `use` tree: the path and the name it binds (`None` for a glob).
struct UseLeaf {
    path: Vec<String>,
    alias: Option<String>,
}

fn use_leaves(tree: &UseTree, mut prefix: Vec<String>, leading_colon: bool) -> Vec<UseLeaf> {
    if leading_colon && prefix.is_empty() {
        prefix.push("::".to_owned());
    }
    match tree {
        UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            use_leaves(&path.tree, prefix, false)
        }
        UseTree::Name(name) if name.ident == "self" => {
            let alias = prefix.last().cloned();
            vec![UseLeaf {
                path: prefix,
                alias,
            }]
        }
        UseTree::Name(name) => {
            prefix.push(name.ident.to_string());
            vec![UseLeaf {
                path: prefix,
                alias: Some(name.ident.to_string()),
            }]
        }
        UseTree::Rename(rename) if rename.rename == "_" => Vec::new(),
        UseTree::Rename(rename) => {
            if rename.ident != "self" {
                prefix.push(rename.ident.to_string());
            }
            vec![UseLeaf {
                path: prefix,
                alias: Some(rename.rename.to_string()),
            }]
        }
        UseTree::Glob(_) => vec![UseLeaf {
            path: prefix,
            alias: None,
        }],
        UseTree::Group(group) => group
            .items
            .iter()
            .flat_map(|tree| use_leaves(tree, prefix.clone(), false))
            .collect(),
    }
}

/// The lines an item's own definition gives: `(rank, key, text)`.
fn definition_lines(item: &Item, public: &str) -> Vec<(u8, String, String)> {
    let head = |text: String| vec![(0, public.to_owned(), text)];
    match item {
        Item::Struct(item) => {
            let mut header = item.clone();
            header.attrs.clear();
            header.fields = Fields::Unit;
            header.semi_token = Some(Default::default());
            let mut lines = head(named(&render_item(Item::Struct(header)), public));
            lines.extend(field_lines(&item.fields, public));
            lines
        }
        Item::Enum(item) => {
            let mut header = item.clone();
            header.attrs.clear();
            header.variants.clear();
            let mut lines = head(named(&render_item(Item::Enum(header)), public));
            for variant in &item.variants {
                let key = format!("{public}::{}", variant.ident);
                let text = format!("variant {key}{}", fields_shape(&variant.fields));
                lines.push((1, key, text));
            }
            lines
        }
        Item::Trait(item) => {
            let mut header = item.clone();
            header.attrs.clear();
            header.items.clear();
            let mut lines = head(named(&render_item(Item::Trait(header)), public));
            for member in &item.items {
                if let Some((name, text)) = trait_member(member) {
                    let key = format!("{public}::{name}");
                    lines.push((1, key.clone(), text.replacen(PLACEHOLDER, &key, 1)));
                }
            }
            lines
        }
        Item::Fn(item) => {
            let mut function = item.clone();
            function.attrs.clear();
            function.block = Box::new(syn::parse_quote!({}));
            head(named(&render_item(Item::Fn(function)), public))
        }
        Item::Type(item) => {
            let mut alias = item.clone();
            alias.attrs.clear();
            head(named(&render_item(Item::Type(alias)), public))
        }
        Item::Const(item) => head(format!("pub const {public}: {}", render_type(&item.ty))),
        Item::Static(item) => head(format!("pub static {public}: {}", render_type(&item.ty))),
        Item::Macro(_) => head(format!("macro {public}!")),
        _ => head(format!("pub item {public}")),
    }
}

/// The public fields of a struct, one line each.
fn field_lines(fields: &Fields, public: &str) -> Vec<(u8, String, String)> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, field)| matches!(field.vis, Visibility::Public(_)))
        .map(|(index, field)| {
            let name = field
                .ident
                .as_ref()
                .map_or_else(|| index.to_string(), ToString::to_string);
            let key = format!("{public}::{name}");
            (
                1,
                key.clone(),
                format!("pub {key}: {}", render_type(&field.ty)),
            )
        })
        .collect()
}

/// A variant's fields as `(A, B)` or ` { a: A }`.
fn fields_shape(fields: &Fields) -> String {
    let types = |fields: &Fields| {
        fields
            .iter()
            .map(|field| {
                let ty = render_type(&field.ty);
                match &field.ident {
                    Some(name) => format!("{name}: {ty}"),
                    None => ty,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match fields {
        Fields::Unit => String::new(),
        Fields::Unnamed(_) => format!("({})", types(fields)),
        Fields::Named(_) => format!(" {{ {} }}", types(fields)),
    }
}

/// A trait's member as `(name, text with the placeholder where the name goes)`.
fn trait_member(member: &TraitItem) -> Option<(String, String)> {
    let mut member = member.clone();
    let name = match &mut member {
        TraitItem::Fn(function) => {
            function.attrs.clear();
            function.default = None;
            function.semi_token = Some(Default::default());
            std::mem::replace(&mut function.sig.ident, placeholder())
        }
        TraitItem::Type(ty) => {
            ty.attrs.clear();
            ty.default = None;
            std::mem::replace(&mut ty.ident, placeholder())
        }
        TraitItem::Const(constant) => {
            constant.attrs.clear();
            constant.default = None;
            std::mem::replace(&mut constant.ident, placeholder())
        }
        _ => return None,
    };
    Some((name.to_string(), render_trait_member(member)))
}

/// The lines of an `impl` block for the type listed at `public`.
fn impl_lines(item_impl: &syn::ItemImpl, public: &str, hidden: bool, lines: &mut BTreeSet<Line>) {
    let hidden = hidden || doc_hidden(&item_impl.attrs);
    if let Some((negative, trait_path, _)) = &item_impl.trait_ {
        let last = trait_path.segments.last().map(|segment| {
            render_type(&syn::Type::Path(syn::TypePath {
                qself: None,
                path: syn::Path::from(segment.clone()),
            }))
        });
        let bang = if negative.is_some() { "!" } else { "" };
        add(
            lines,
            hidden,
            public,
            2,
            format!("impl {bang}{} for {public}", last.unwrap_or_default()),
        );
        return;
    }
    for member in &item_impl.items {
        let (name, text, member_attrs) = match member {
            ImplItem::Fn(function)
                if matches!(function.vis, Visibility::Public(_)) && enabled(&function.attrs) =>
            {
                let mut sig = function.sig.clone();
                let name = std::mem::replace(&mut sig.ident, placeholder());
                let text = render_trait_member(TraitItem::Fn(syn::TraitItemFn {
                    attrs: Vec::new(),
                    sig,
                    default: None,
                    semi_token: Some(Default::default()),
                }));
                (name, format!("pub {text}"), &function.attrs)
            }
            ImplItem::Const(constant)
                if matches!(constant.vis, Visibility::Public(_)) && enabled(&constant.attrs) =>
            {
                (
                    constant.ident.clone(),
                    format!("pub const {PLACEHOLDER}: {}", render_type(&constant.ty)),
                    &constant.attrs,
                )
            }
            _ => continue,
        };
        let key = format!("{public}::{name}");
        add(
            lines,
            hidden || doc_hidden(member_attrs),
            &key,
            1,
            text.replacen(PLACEHOLDER, &key, 1),
        );
    }
}

/// The written path of a type such as `Foo<T>` or `crate::a::Foo`, without its arguments.
fn type_path(ty: &syn::Type) -> Option<Vec<String>> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            let mut segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if path.path.leading_colon.is_some() {
                segments.insert(0, "::".to_owned());
            }
            Some(segments)
        }
        _ => None,
    }
}

/// The last segments of the paths in `#[derive(..)]`.
fn derives(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .filter_map(|path| {
            path.segments
                .last()
                .map(|segment| segment.ident.to_string())
        })
        .collect()
}

/// The name an item defines, if any.
fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(item) => &item.ident,
        Item::Enum(item) => &item.ident,
        Item::Fn(item) => &item.sig.ident,
        Item::Mod(item) => &item.ident,
        Item::Static(item) => &item.ident,
        Item::Struct(item) => &item.ident,
        Item::Trait(item) => &item.ident,
        Item::TraitAlias(item) => &item.ident,
        Item::Type(item) => &item.ident,
        Item::Union(item) => &item.ident,
        Item::Macro(item) => item.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

/// Whether an item is visible outside its crate when its module is.
fn is_pub(item: &Item) -> bool {
    let vis = match item {
        Item::Const(item) => &item.vis,
        Item::Enum(item) => &item.vis,
        Item::Fn(item) => &item.vis,
        Item::Mod(item) => &item.vis,
        Item::Static(item) => &item.vis,
        Item::Struct(item) => &item.vis,
        Item::Trait(item) => &item.vis,
        Item::TraitAlias(item) => &item.vis,
        Item::Type(item) => &item.vis,
        Item::Union(item) => &item.vis,
        Item::Use(item) => &item.vis,
        Item::Macro(item) => {
            return item
                .attrs
                .iter()
                .any(|attr| attr.path().is_ident("macro_export"));
        }
        _ => return false,
    };
    matches!(vis, Visibility::Public(_))
}

fn attrs_of(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}

/// Whether `#[doc(hidden)]` is among `attrs`.
fn doc_hidden(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("doc")
            && matches!(&attr.meta, Meta::List(list) if list.tokens.to_string().split(',').any(|word| word.trim() == "hidden"))
    })
}

/// Whether every `#[cfg(..)]` among `attrs` holds with all features on, on Unix, outside tests.
fn enabled(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .all(|attr| {
            attr.parse_args::<Meta>()
                .map(|meta| cfg_holds(&meta))
                .unwrap_or(true)
        })
}

fn cfg_holds(meta: &Meta) -> bool {
    let name = meta
        .path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    match meta {
        Meta::List(list) => {
            let inner = list
                .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .unwrap_or_default();
            match name.as_str() {
                "not" => !inner.iter().all(cfg_holds),
                "any" => inner.iter().any(cfg_holds),
                _ => inner.iter().all(cfg_holds),
            }
        }
        Meta::Path(_) => !matches!(
            name.as_str(),
            "test" | "doc" | "docsrs" | "windows" | "miri"
        ),
        Meta::NameValue(pair) => {
            let value = pair.value.to_token_stream_string();
            match name.as_str() {
                "target_os" => value == "\"linux\"",
                "target_family" => value == "\"unix\"",
                _ => true,
            }
        }
    }
}

/// Token text of an expression, for `cfg` values.
trait TokenText {
    fn to_token_stream_string(&self) -> String;
}

impl<T: quote::ToTokens> TokenText for T {
    fn to_token_stream_string(&self) -> String {
        self.to_token_stream().to_string()
    }
}

/// The identifier rendered in place of a name, replaced by the name's public path.
const PLACEHOLDER: &str = "ZzPublicApiName";

fn placeholder() -> syn::Ident {
    syn::Ident::new(PLACEHOLDER, proc_macro2::Span::call_site())
}

/// `text` with the item's own name (its first identifier after the keyword) made `public`.
fn named(text: &str, public: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut renamed = false;
    for word in text.split(' ') {
        let last_was_keyword = matches!(
            words.last().map(String::as_str),
            Some("struct" | "enum" | "trait" | "fn" | "type" | "union")
        );
        if !renamed && last_was_keyword {
            let rest = word.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
            words.push(format!("{public}{rest}"));
            renamed = true;
        } else {
            words.push(word.to_owned());
        }
    }
    words.join(" ")
}

/// An item on one line, its body (`{}` or `;`) left off.
fn render_item(item: Item) -> String {
    let text = one_line(&prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![item],
    }));
    text.trim_end_matches(';')
        .trim_end_matches("{}")
        .trim_end()
        .trim_end_matches(',')
        .to_owned()
}

/// A trait member on one line, as written inside a trait.
fn render_trait_member(member: TraitItem) -> String {
    let host: syn::ItemTrait = syn::parse_quote!(trait ZzHost { #member });
    let text = one_line(&prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![Item::Trait(host)],
    }));
    let inner = text
        .trim_start_matches("trait ZzHost {")
        .trim_end_matches('}')
        .trim();
    inner.trim_end_matches(';').to_owned()
}

/// A type on one line.
fn render_type(ty: &syn::Type) -> String {
    let alias: Item = syn::parse_quote!(type ZzAlias = #ty;);
    render_item(alias)
        .trim_start_matches("type ZzAlias = ")
        .to_owned()
}

/// Pretty-printed Rust on one line.
fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    joined
        .replace("( ", "(")
        .replace(", )", ")")
        .replace(",)", ")")
        .replace("< ", "<")
        .replace(", >", ">")
        .replace(",>", ">")
}

fn parent(module: &ModPath) -> ModPath {
    module[..module.len().saturating_sub(1)].to_vec()
}

fn add(lines: &mut BTreeSet<Line>, hidden: bool, key: &str, rank: u8, text: String) {
    lines.insert(Line {
        hidden,
        key: key.to_owned(),
        rank,
        text,
    });
}

/// Lines of a declarative macro's invocation that declare public items.
fn invocation_items(tokens: TokenStream, out: &mut Vec<(String, String)>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for window in trees.windows(3) {
        if let [
            TokenTree::Ident(vis),
            TokenTree::Ident(kind),
            TokenTree::Ident(name),
        ] = window
        {
            let is_item = matches!(
                kind.to_string().as_str(),
                "struct" | "enum" | "fn" | "trait" | "type" | "const" | "static"
            );
            if vis == "pub" && is_item {
                out.push((kind.to_string(), name.to_string()));
            }
        }
    }
    for tree in trees {
        if let TokenTree::Group(group) = tree {
            invocation_items(group.stream(), out);
        }
    }
}

impl Crate {
    /// Items a declarative macro invocation declares in a public module.
    fn add_invocations(
        &self,
        lines: &mut BTreeSet<Line>,
        module: &ModPath,
        public: &str,
        hidden: bool,
    ) {
        for item in self.modules.get(module).into_iter().flatten() {
            let Item::Macro(invocation) = item else {
                continue;
            };
            if invocation.ident.is_some() {
                continue;
            }
            let mut found = Vec::new();
            invocation_items(invocation.mac.tokens.clone(), &mut found);
            let by = invocation
                .mac
                .path
                .segments
                .last()
                .map(|segment| segment.ident.to_string())
                .unwrap_or_default();
            for (kind, name) in found {
                let key = format!("{public}::{name}");
                add(
                    lines,
                    hidden,
                    &key,
                    0,
                    format!("pub {kind} {key} (declared by {by}!)"),
                );
            }
        }
    }
}

/// The listing's text: a header, the public lines, then a section for the hidden ones.
fn render(krate: &str, lines: BTreeSet<Line>) -> String {
    let mut out = format!(
        "# The public API of `{krate}` (all features), one line per public path.\n\
         # Checked by `cargo test -p rust-stream-tests --test public_api`; after a deliberate\n\
         # change, update it with `UPDATE_API_LISTINGS=1 cargo test -p rust-stream-tests --test public_api`.\n\n"
    );
    let mut in_hidden = false;
    for line in lines {
        if line.hidden && !in_hidden {
            out.push_str("\n# #[doc(hidden)]: for generated code only, not covered by semver.\n\n");
            in_hidden = true;
        }
        out.push_str(&line.text);
        out.push('\n');
    }
    out
}
