//! rustfmt's layout of the few shapes a skeleton writes whose width depends on names: `use`
//! items, the `impl` line, method signatures and three kinds of statement in a stub's body.
//! Scaffolded files are what `cargo fmt` prints (default configuration, style edition 2024)
//! by construction, without rustfmt being installed.
//!
//! For each shape rustfmt tries its layouts in a fixed order and keeps the first whose lines
//! fit; these functions try the same layouts in the same order. Where none fits, rustfmt keeps
//! the source as it was written, and these functions write the one-line form, which rustfmt
//! then keeps too. The widths are rustfmt's defaults: `max_width` 100 and, from
//! `use_small_heuristics = "Default"`, `fn_call_width` 60. The generator's `scaffold_rustfmt`
//! test holds every shape against rustfmt itself, for names of many lengths.

use crate::ident::unraw;
use std::cmp::Ordering;

/// rustfmt's `max_width`.
const MAX_WIDTH: usize = 100;
/// rustfmt's `fn_call_width`: the widest argument list a call keeps on its callee's line.
const CALL_WIDTH: usize = 60;
/// rustfmt's `tab_spaces`.
const INDENT: usize = 4;

fn width(text: &str) -> usize {
    text.chars().count()
}

fn fits(line: &str) -> bool {
    width(line) <= MAX_WIDTH
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

/// The lines, each ended by a newline.
fn block(lines: impl IntoIterator<Item = String>) -> String {
    lines.into_iter().map(|line| line + "\n").collect()
}

/// A type as a skeleton writes it: a path, and generic arguments that are paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ty {
    path: String,
    args: Vec<String>,
}

impl Ty {
    /// A type without generic arguments (`Status`, `()`).
    pub fn plain(path: impl Into<String>) -> Ty {
        Ty {
            path: path.into(),
            args: Vec::new(),
        }
    }

    /// `path<args>`.
    pub fn generic(path: impl Into<String>, args: Vec<String>) -> Ty {
        Ty {
            path: path.into(),
            args,
        }
    }

    /// The type on one line.
    pub fn text(&self) -> String {
        if self.args.is_empty() {
            self.path.clone()
        } else {
            format!("{}<{}>", self.path, self.args.join(", "))
        }
    }

    /// `head`, the type and `tail` on one line at `indent` if that fits, else broken after
    /// `<` ([`Ty::broken`]).
    fn lines(&self, indent: usize, head: &str, tail: &str) -> Option<Vec<String>> {
        let one = format!("{}{head}{}{tail}", spaces(indent), self.text());
        if fits(&one) {
            return Some(vec![one]);
        }
        self.broken(indent, head, tail)
    }

    /// `head` and the type up to `<`, each argument on a line of its own, then `>` and
    /// `tail`; `None` if the type has no arguments or a line does not fit.
    fn broken(&self, indent: usize, head: &str, tail: &str) -> Option<Vec<String>> {
        if self.args.is_empty() {
            return None;
        }
        let mut lines = vec![format!("{}{head}{}<", spaces(indent), self.path)];
        let inner = spaces(indent + INDENT);
        lines.extend(self.args.iter().map(|arg| format!("{inner}{arg},")));
        lines.push(format!("{}>{tail}", spaces(indent)));
        lines.iter().all(|line| fits(line)).then_some(lines)
    }
}

/// A method parameter: `binding: ty`, or `binding` alone (`&self`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The pattern, with `mut` if any (`mut requests`), or the whole receiver (`&self`).
    pub binding: String,
    /// The type, `None` for a receiver.
    pub ty: Option<Ty>,
}

impl Param {
    fn text(&self) -> String {
        match &self.ty {
            Some(ty) => format!("{}: {}", self.binding, ty.text()),
            None => self.binding.clone(),
        }
    }

    /// The parameter's lines in a signature whose parameters do not fit on one line.
    fn lines(&self, indent: usize) -> Vec<String> {
        let broken = self
            .ty
            .as_ref()
            .and_then(|ty| ty.lines(indent, &format!("{}: ", self.binding), ","));
        // rustfmt keeps a parameter that fits no layout as it was written.
        broken.unwrap_or_else(|| vec![format!("{}{},", spaces(indent), self.text())])
    }
}

/// A method's signature at `indent`, up to and including the `{` that opens its body:
/// `head(params) -> ret {` on one line if it fits, else one parameter per line.
pub fn signature(indent: usize, head: &str, params: &[Param], ret: &Ty) -> String {
    let pad = spaces(indent);
    let list: Vec<String> = params.iter().map(Param::text).collect();
    let one = format!("{pad}{head}({}) -> {}", list.join(", "), ret.text());
    // rustfmt measures a one-line signature without its indentation, a multi-line one's
    // last line with it: the brace stays on the line if ` {` fits in the width left.
    let brace_fits = |measured: usize| measured + 2 <= MAX_WIDTH - indent;
    if brace_fits(width(&one) - indent) {
        return format!("{one} {{\n");
    }
    let mut lines = vec![format!("{pad}{head}(")];
    for param in params {
        lines.extend(param.lines(indent + INDENT));
    }
    let arrow = format!("-> {}", ret.text());
    if width(&arrow) <= MAX_WIDTH - indent {
        let last = format!("{pad}) {arrow}");
        if brace_fits(width(&last)) {
            lines.push(format!("{last} {{"));
        } else {
            lines.push(last);
            lines.push(format!("{pad}{{"));
        }
    } else {
        match ret.broken(indent, ") -> ", " {") {
            Some(ret_lines) => lines.extend(ret_lines),
            // No layout fits: rustfmt keeps the signature as written and puts the brace
            // right after it.
            None => return format!("{one}{{\n"),
        }
    }
    block(lines)
}

/// `impl trait_name for ty {`, with `for` on a line of its own if that does not fit.
pub fn impl_header(trait_name: &str, ty: &str) -> String {
    let one = format!("impl {trait_name} for {ty} {{");
    let head = format!("impl {trait_name}");
    let middle = format!("{}for {ty}", spaces(INDENT));
    if fits(&one) || !fits(&head) || !fits(&middle) {
        return format!("{one}\n");
    }
    block([head, middle, "{".to_owned()])
}

/// `let name: ty = value;` at `indent`: on one line, else the value on the next line, else
/// the type broken after `<`.
pub fn let_typed(indent: usize, name: &str, ty: &Ty, value: &str) -> String {
    let pad = spaces(indent);
    let head = format!("let {name}: ");
    let one = format!("{pad}{head}{} = {value};", ty.text());
    if fits(&one) {
        return format!("{one}\n");
    }
    let split = [
        format!("{pad}{head}{} =", ty.text()),
        format!("{}{value};", spaces(indent + INDENT)),
    ];
    if split.iter().all(|line| fits(line)) {
        return block(split);
    }
    match ty.broken(indent, &head, &format!(" = {value};")) {
        Some(lines) => block(lines),
        None => format!("{one}\n"),
    }
}

/// `let name = mac(literal);` at `indent`, for a function-like macro (`format!`) given one
/// string literal: on one line, else the call on the next line, else the literal on a line of
/// its own (rustfmt lets a string literal run past the width).
pub fn let_macro_call(indent: usize, name: &str, mac: &str, literal: &str) -> String {
    let pad = spaces(indent);
    let inner = spaces(indent + INDENT);
    let one = format!("{pad}let {name} = {mac}({literal});");
    if fits(&one) {
        return format!("{one}\n");
    }
    let call = format!("{inner}{mac}({literal});");
    if fits(&call) {
        return block([format!("{pad}let {name} ="), call]);
    }
    block([
        format!("{pad}let {name} = {mac}("),
        format!("{inner}{literal}"),
        format!("{pad});"),
    ])
}

/// `prefix Err(callee(argument)) suffix` at `indent`, where `argument` is a string literal or
/// a variable: a stub's last expression (no prefix or suffix) or a match arm (`None => `,
/// `,`).
pub fn err_call(indent: usize, prefix: &str, callee: &str, argument: &str, suffix: &str) -> String {
    let pad = spaces(indent);
    let inner = spaces(indent + INDENT);
    let call = format!("{callee}({argument})");
    let open = format!("{callee}(");
    let one = format!("{pad}{prefix}Err({call}){suffix}\n");
    // `Err` is shorter than an indent: rustfmt lets its argument, the call, start on its line.
    if width(&call) <= CALL_WIDTH && fits(one.trim_end()) {
        return one;
    }
    let head = format!("{pad}{prefix}Err({open}");
    if width(&open) <= CALL_WIDTH && fits(&head) {
        return block([
            head,
            format!("{inner}{argument},"),
            format!("{pad})){suffix}"),
        ]);
    }
    // A single argument that fits the width left inside `Err(..)` stays on the line.
    let room = MAX_WIDTH.saturating_sub(indent + width(prefix) + "Err()".len());
    if width(&call) <= room && fits(&format!("{inner}{call},")) {
        return one;
    }
    if fits(&format!("{inner}{open}")) {
        return block([
            format!("{pad}{prefix}Err("),
            format!("{inner}{open}"),
            format!("{}{argument},", spaces(indent + 2 * INDENT)),
            format!("{inner}),"),
            format!("{pad}){suffix}"),
        ]);
    }
    one
}

/// One `use` item: the names imported from a parent path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// Attribute lines written above the item (`#[allow(deprecated)]`).
    pub attributes: Vec<String>,
    /// The parent path (`crate::pb`, `::rust_stream`).
    pub parent: String,
    /// The names, at least one.
    pub names: Vec<String>,
}

/// The `use` items in rustfmt's order, each laid out as rustfmt does.
pub fn use_items(mut uses: Vec<Use>) -> String {
    for item in &mut uses {
        item.names.sort_by(|a, b| version_sort(unraw(a), unraw(b)));
    }
    uses.sort_by(compare_uses);
    uses.iter().map(use_item).collect()
}

/// `use parent::name;`, or `use parent::{a, b};` with the names filled into lines of their
/// own when that is too wide.
fn use_item(item: &Use) -> String {
    let attributes: String = item.attributes.iter().map(|a| format!("{a}\n")).collect();
    let parent = &item.parent;
    let names = &item.names;
    if let [name] = names.as_slice() {
        return format!("{attributes}use {parent}::{name};\n");
    }
    let one = format!("use {parent}::{{{}}};", names.join(", "));
    let head = format!("use {parent}::{{");
    // rustfmt keeps two columns spare for a list on one line, and gives up on a list that
    // would start too far right.
    if width(&one) + 2 <= MAX_WIDTH || width(&head) + 2 > MAX_WIDTH {
        return format!("{attributes}{one}\n");
    }
    let room = MAX_WIDTH - INDENT - 1;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, name) in names.iter().enumerate() {
        // The last name's comma counts only once the list has wrapped.
        let comma = i + 1 < names.len() || !lines.is_empty();
        let item_width = width(name) + usize::from(comma);
        if !line.is_empty() && width(&line) + 1 + item_width > room {
            lines.push(std::mem::take(&mut line));
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(name);
        line.push(',');
    }
    lines.push(line);
    let body: String = lines
        .iter()
        .map(|line| format!("{}{line}\n", spaces(INDENT)))
        .collect();
    format!("{attributes}{head}\n{body}}};\n")
}

/// One segment of a `use` path, as rustfmt orders them: `self`, `super`, `crate`, names
/// (a leading `::` is part of the first), then lists.
#[derive(Debug)]
enum Segment<'a> {
    SelfModule,
    Super,
    Crate,
    Name(&'a str),
    List(&'a [String]),
}

fn segments(item: &Use) -> Vec<Segment<'_>> {
    let parent = item.parent.as_str();
    let (global, path) = match parent.strip_prefix("::") {
        Some(path) => (true, path),
        None => (false, parent),
    };
    let mut segments: Vec<Segment<'_>> = path
        .split("::")
        .enumerate()
        .map(|(i, part)| match part {
            // `::name`: the leading `::` belongs to the first name.
            _ if global && i == 0 => Segment::Name(&parent[..part.len() + 2]),
            "self" => Segment::SelfModule,
            "super" => Segment::Super,
            "crate" => Segment::Crate,
            name => Segment::Name(name),
        })
        .collect();
    segments.push(match item.names.as_slice() {
        [name] => Segment::Name(name),
        names => Segment::List(names),
    });
    segments
}

fn compare_segments(a: &Segment<'_>, b: &Segment<'_>) -> Ordering {
    match (a, b) {
        (Segment::Name(a), Segment::Name(b)) => version_sort(unraw(a), unraw(b)),
        (Segment::List(a), Segment::List(b)) => {
            let names = a.iter().zip(b.iter());
            names
                .map(|(a, b)| version_sort(unraw(a), unraw(b)))
                .find(|order| order.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len()))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The order of segment kinds: `self` < `super` < `crate` < names < lists.
fn rank(segment: &Segment<'_>) -> u8 {
    match segment {
        Segment::SelfModule => 0,
        Segment::Super => 1,
        Segment::Crate => 2,
        Segment::Name(_) => 3,
        Segment::List(_) => 4,
    }
}

/// rustfmt's order of `use` items: segment by segment, then the shorter path first.
fn compare_uses(a: &Use, b: &Use) -> Ordering {
    let (a, b) = (segments(a), segments(b));
    a.iter()
        .zip(b.iter())
        .map(|(a, b)| compare_segments(a, b))
        .find(|order| order.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

/// A piece of a name in the version sort.
#[derive(Debug)]
enum Chunk<'a> {
    Underscore,
    Text(&'a str),
    Number {
        value: usize,
        zeros: usize,
        source: &'a str,
    },
}

impl<'a> Chunk<'a> {
    fn source(&self) -> &'a str {
        match self {
            Chunk::Underscore => "_",
            Chunk::Text(source) | Chunk::Number { source, .. } => source,
        }
    }
}

/// The chunks of `name`: `_`, runs of digits and runs of anything else. Like rustfmt, it
/// ends at a run of digits too long for a `usize`.
fn chunks(name: &str) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut rest = name;
    while let Some(first) = rest.chars().next() {
        let (chunk, len) = if first == '_' {
            (Chunk::Underscore, 1)
        } else if first.is_ascii_digit() {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let source = &rest[..len];
            let Ok(value) = source.parse::<usize>() else {
                break;
            };
            let zeros = source.chars().take_while(|c| *c == '0').count();
            let number = Chunk::Number {
                value,
                zeros,
                source,
            };
            (number, len)
        } else {
            let len = rest
                .find(|c: char| c == '_' || c.is_ascii_digit())
                .unwrap_or(rest.len());
            (Chunk::Text(&rest[..len]), len)
        };
        out.push(chunk);
        rest = &rest[len..];
    }
    out
}

/// The style guide's version sort (rustfmt, style edition 2024): `_` first, numbers by value,
/// the rest by code point; with equal values, more leading zeros first.
fn version_sort(a: &str, b: &str) -> Ordering {
    let (a, b) = (chunks(a), chunks(b));
    let mut zeros = Ordering::Equal;
    for (x, y) in a.iter().zip(b.iter()) {
        let order = match (x, y) {
            (Chunk::Underscore, Chunk::Underscore) => Ordering::Equal,
            (Chunk::Underscore, _) => Ordering::Less,
            (_, Chunk::Underscore) => Ordering::Greater,
            (
                Chunk::Number {
                    value: va,
                    zeros: za,
                    ..
                },
                Chunk::Number {
                    value: vb,
                    zeros: zb,
                    ..
                },
            ) => {
                if va == vb && zeros.is_eq() {
                    zeros = zb.cmp(za);
                }
                va.cmp(vb)
            }
            _ => x.source().cmp(y.source()),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len()).then(zeros)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(items: &[(&str, &[&str])]) -> String {
        use_items(
            items
                .iter()
                .map(|(parent, names)| Use {
                    attributes: Vec::new(),
                    parent: (*parent).to_owned(),
                    names: names.iter().map(|n| (*n).to_owned()).collect(),
                })
                .collect(),
        )
    }

    #[test]
    fn version_sort_orders_underscores_numbers_and_raw_names_as_rustfmt_does() {
        let mut names = vec![
            "X10", "r#async", "Abd", "_x", "abc", "X9", "r#Self_", "Bar", "x_1", "x1", "X09",
        ];
        names.sort_by(|a, b| version_sort(unraw(a), unraw(b)));
        assert_eq!(
            names,
            [
                "_x", "Abd", "Bar", "r#Self_", "X09", "X9", "X10", "abc", "r#async", "x_1", "x1"
            ]
        );
    }

    #[test]
    fn use_items_go_self_super_crate_then_names_and_a_list_after_its_siblings() {
        let text = uses(&[
            ("::rust_stream", &["ResponseSink", "CallContext"]),
            ("::rust_stream::codegen::tonic", &["Status"]),
            ("crate::pb", &["Item", "ItemRequest"]),
            ("crate::pb::inventory_stream", &["InventoryHandler"]),
            ("crate::pb::r#type", &["Foo"]),
            ("crate::pb::a", &["Zed"]),
            ("super::x", &["Y"]),
            ("std", &["fmt"]),
            ("self::z", &["Q"]),
            ("::prost_types", &["Timestamp"]),
        ]);
        assert_eq!(
            text,
            "use self::z::Q;\n\
             use super::x::Y;\n\
             use crate::pb::a::Zed;\n\
             use crate::pb::inventory_stream::InventoryHandler;\n\
             use crate::pb::r#type::Foo;\n\
             use crate::pb::{Item, ItemRequest};\n\
             use ::prost_types::Timestamp;\n\
             use ::rust_stream::codegen::tonic::Status;\n\
             use ::rust_stream::{CallContext, ResponseSink};\n\
             use std::fmt;\n"
        );
    }

    #[test]
    fn a_long_use_list_fills_lines_and_ends_with_a_comma() {
        let names: Vec<String> = (0..12).map(|i| format!("MessageNumber{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            uses(&[("crate::pb::acme::v1", &names)]),
            "use crate::pb::acme::v1::{\n    \
             MessageNumber0, MessageNumber1, MessageNumber2, MessageNumber3, MessageNumber4, MessageNumber5,\n    \
             MessageNumber6, MessageNumber7, MessageNumber8, MessageNumber9, MessageNumber10,\n    \
             MessageNumber11,\n};\n"
        );
    }

    #[test]
    fn signatures_go_on_one_line_when_they_fit_else_one_parameter_per_line() {
        let param = |binding: &str, ty: Option<Ty>| Param {
            binding: binding.to_owned(),
            ty,
        };
        let params = |last: Param| {
            vec![
                param("&self", None),
                param("ctx", Some(Ty::plain("CallContext"))),
                last,
            ]
        };
        let ret = Ty::generic("Result", vec!["Item".to_owned(), "Status".to_owned()]);
        let request = param("request", Some(Ty::plain("Item")));
        assert_eq!(
            signature(4, "async fn get", &params(request), &ret),
            "    async fn get(&self, ctx: CallContext, request: Item) -> Result<Item, Status> {\n"
        );
        let stream = |item: &str| {
            let ty = Ty::generic("RequestStream", vec![item.to_owned()]);
            param("mut requests", Some(ty))
        };
        assert_eq!(
            signature(4, "async fn put", &params(stream("Item")), &ret),
            "    async fn put(\n        &self,\n        ctx: CallContext,\n        \
             mut requests: RequestStream<Item>,\n    ) -> Result<Item, Status> {\n"
        );
        let long = "crate::pb::acme::inventory::v1::AMessageWithAVeryLongNameIndeed";
        assert_eq!(
            signature(4, "async fn put", &params(stream(long)), &ret),
            format!(
                "    async fn put(\n        &self,\n        ctx: CallContext,\n        \
                 mut requests: RequestStream<\n            {long},\n        >,\n    \
                 ) -> Result<Item, Status> {{\n"
            )
        );
    }

    #[test]
    fn err_calls_overflow_their_argument_then_go_vertical() {
        let literal = "\"GetItem is not implemented yet\"";
        assert_eq!(
            err_call(8, "", "Status::unimplemented", literal, ""),
            "        Err(Status::unimplemented(\"GetItem is not implemented yet\"))\n"
        );
        assert_eq!(
            err_call(
                8,
                "",
                "::rust_stream::codegen::tonic::Status::unimplemented",
                literal,
                ""
            ),
            format!(
                "        Err(::rust_stream::codegen::tonic::Status::unimplemented(\n            \
                 {literal},\n        ))\n"
            )
        );
    }
}
