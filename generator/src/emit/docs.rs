//! Proto comments as rustdoc that never becomes a doctest and never trips a rustdoc lint.
//!
//! Applied to every doc attribute of a generated file (prost's, tonic's and ours), one
//! item's doc block at a time: code fences become `text` fences, deeply indented lines
//! (indented code blocks) lose their extra indentation, and outside inline code `[`, `]`
//! and `<` are escaped (no broken intra-doc links or unknown HTML tags) and bare URLs are
//! wrapped in `<...>`.

use syn::visit_mut::VisitMut;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta};

/// Rewrites the lines of one doc block.
pub fn sanitize(lines: &[String]) -> Vec<String> {
    let min_indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let mut block = Block {
        min_indent,
        out: Vec::with_capacity(lines.len() + 1),
        fence: None,
        in_paragraph: false,
        in_code: false,
        item: None,
    };
    for line in lines {
        block.line(line.replace('\t', "    "));
    }
    if let Some((open, indent)) = block.fence {
        block.out.push(format!("{indent}{open}"));
    }
    block.out
}

/// The state of [`sanitize`] between the lines of one doc block.
struct Block {
    /// The indentation of the block's least indented line.
    min_indent: usize,
    /// The lines written so far.
    out: Vec<String>,
    /// The open fence: its marker and the indentation it was written with.
    fence: Option<(String, String)>,
    /// Whether the previous line is paragraph text, which the next line continues: an
    /// indented code block cannot start there.
    in_paragraph: bool,
    /// Whether the previous line is in an indented code block.
    in_code: bool,
    /// The content column of the list item being written, if any.
    item: Option<usize>,
}

impl Block {
    /// Rewrites one line (tabs already expanded).
    fn line(&mut self, line: String) {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        let is_fence =
            marker.len() >= 3 && marker.chars().all(|c| c == marker.as_bytes()[0] as char);
        match &self.fence {
            Some((open, indent)) => {
                if is_fence
                    && marker.starts_with(open.as_str())
                    && trimmed[marker.len()..].trim().is_empty()
                {
                    // At the opening fence's indentation: markdown closes a fence only
                    // with at most three spaces more.
                    self.out.push(format!("{indent}{marker}"));
                    self.fence = None;
                } else {
                    self.out.push(line.clone());
                }
            }
            None if is_fence => {
                let indent = &line[..line.len() - trimmed.len()];
                let indent = indent[..indent.len().min(self.min_indent + 3)].to_owned();
                self.out.push(format!("{indent}{marker}text"));
                self.fence = Some((marker, indent));
                (self.in_paragraph, self.in_code) = (false, false);
            }
            None if trimmed.is_empty() => {
                self.out.push(line.clone());
                (self.in_paragraph, self.in_code) = (false, false);
            }
            None => self.text(&line),
        }
    }

    /// Rewrites a line of text outside fences: an indented code block keeps little
    /// indentation, list items and their continuations keep theirs, the rest is escaped.
    fn text(&mut self, line: &str) {
        let trimmed = line.trim_start();
        let indent = indent_of(line);
        let list_marker = list_marker_len(trimmed);
        if !self.in_paragraph && list_marker.is_none() && self.item.is_some_and(|c| indent < c) {
            self.item = None;
        }
        let base = self.item.unwrap_or(self.min_indent);
        let keep = if (self.in_code || !self.in_paragraph) && indent >= base + 4 {
            // An indented code block: plain text, so that it never becomes a doctest.
            self.in_code = true;
            base + 2
        } else if let Some(len) = list_marker {
            self.in_code = false;
            self.item = Some(indent + len);
            indent
        } else {
            self.in_code = false;
            match self.item {
                // A lazy continuation of the item: indented to its content,
                // as clippy's `doc_lazy_continuation` asks.
                Some(column) if self.in_paragraph && indent < column => column,
                _ => indent,
            }
        };
        self.in_paragraph = !self.in_code && !trimmed.starts_with('#');
        self.out
            .push(format!("{}{}", " ".repeat(keep), escape(trimmed)));
    }
}

/// The length of the list item marker (`- `, `* `, `+ `, `1. `, `1) `) `line` starts with.
fn list_marker_len(line: &str) -> Option<usize> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let len = match line.as_bytes() {
        [b'-' | b'*' | b'+', b' ', ..] => 2,
        _ if (1..=9).contains(&digits)
            && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))
            && line.as_bytes().get(digits + 1) == Some(&b' ') =>
        {
            digits + 2
        }
        _ => return None,
    };
    // Spaces after the marker belong to it, up to four.
    let spaces = line[len..].bytes().take_while(|&b| b == b' ').count();
    Some(len + if spaces < 4 { spaces } else { 0 })
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Escapes markdown outside inline code spans.
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    for (i, segment) in line.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if !i.is_multiple_of(2) && line.matches('`').count().is_multiple_of(2) {
            out.push_str(segment);
        } else {
            escape_text(segment, &mut out);
        }
    }
    out
}

fn escape_text(text: &str, out: &mut String) {
    let chars: Vec<char> = text.chars().collect();
    // Where the `(` of the last inline link kept as a link is.
    let mut link_target = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let escaped = i > 0 && chars[i - 1] == '\\';
        match c {
            '[' | ']' if !escaped => {
                // Keep inline links `[text](url)`.
                if c == '['
                    && let Some(close) = chars[i..].iter().position(|&c| c == ']')
                    && chars.get(i + close + 1) == Some(&'(')
                {
                    out.extend(&chars[i..=i + close]);
                    i += close + 1;
                    link_target = Some(i);
                    continue;
                }
                out.push('\\');
                out.push(c);
            }
            '<' if !escaped => {
                let rest = &chars[i + 1..];
                if (starts_with(rest, "http://") || starts_with(rest, "https://"))
                    && rest.contains(&'>')
                {
                    out.push('<');
                } else {
                    out.push_str("&lt;");
                }
            }
            // A URL is left alone in `<...>` and as the target of a link kept above; after
            // any other `(` (a link split over lines, `\](` escaped) it is bare.
            'h' if !escaped && (i == 0 || (chars[i - 1] != '<' && link_target != Some(i - 1))) => {
                let rest = &chars[i..];
                if starts_with(rest, "http://") || starts_with(rest, "https://") {
                    let len = rest
                        .iter()
                        .position(|&c| c.is_whitespace() || c == ')' || c == '>')
                        .unwrap_or(rest.len());
                    out.push('<');
                    out.extend(&rest[..len]);
                    out.push('>');
                    i += len;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
}

/// Whether `chars` starts with `prefix`.
fn starts_with(chars: &[char], prefix: &str) -> bool {
    let mut chars = chars.iter();
    prefix.chars().all(|p| chars.next() == Some(&p))
}

/// Rewrites the doc attributes of every item in a file.
pub fn sanitize_file(file: &mut syn::File) {
    Docs.visit_file_mut(file);
}

struct Docs;

fn fix(attrs: &mut [Attribute]) {
    let mut docs: Vec<(usize, String)> = Vec::new();
    for (i, attr) in attrs.iter().enumerate() {
        if let Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            docs.push((i, s.value()));
        }
    }
    if docs.is_empty() {
        return;
    }
    let lines: Vec<String> = docs.iter().map(|(_, s)| s.clone()).collect();
    let mut fixed = sanitize(&lines);
    // An unclosed fence got a closing line: put it on the last doc attribute.
    if fixed.len() > docs.len() {
        let extra = fixed.split_off(docs.len());
        if let Some(last) = fixed.last_mut() {
            for line in extra {
                last.push('\n');
                last.push_str(&line);
            }
        }
    }
    for ((index, old), text) in docs.iter().zip(fixed) {
        // Most lines need no escape: their literal stays as it was written, which prints as
        // the same `///` line (prettyplease prints the literal itself only for a line
        // with a newline or starting with `/`, written anew as before).
        if *old == text && !text.contains('\n') && !text.starts_with('/') {
            continue;
        }
        if let Meta::NameValue(nv) = &mut attrs[*index].meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &mut nv.value
        {
            *s = LitStr::new(&text, s.span());
        }
    }
}

macro_rules! visit_attrs {
    ($($method:ident: $ty:ty,)*) => {
        impl VisitMut for Docs {
            $(
                fn $method(&mut self, node: &mut $ty) {
                    fix(&mut node.attrs);
                    syn::visit_mut::$method(self, node);
                }
            )*
        }
    };
}

visit_attrs! {
    visit_item_struct_mut: syn::ItemStruct,
    visit_item_enum_mut: syn::ItemEnum,
    visit_item_mod_mut: syn::ItemMod,
    visit_item_fn_mut: syn::ItemFn,
    visit_item_trait_mut: syn::ItemTrait,
    visit_item_impl_mut: syn::ItemImpl,
    visit_item_const_mut: syn::ItemConst,
    visit_item_type_mut: syn::ItemType,
    visit_item_use_mut: syn::ItemUse,
    visit_field_mut: syn::Field,
    visit_variant_mut: syn::Variant,
    visit_impl_item_fn_mut: syn::ImplItemFn,
    visit_impl_item_type_mut: syn::ImplItemType,
    visit_impl_item_const_mut: syn::ImplItemConst,
    visit_trait_item_fn_mut: syn::TraitItemFn,
    visit_trait_item_type_mut: syn::TraitItemType,
    visit_trait_item_const_mut: syn::TraitItemConst,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Vec<String> {
        sanitize(&lines.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn fences_become_text() {
        assert_eq!(
            run(&[" Example:", " ```", " let x = 1;", " ```"]),
            [" Example:", " ```text", " let x = 1;", " ```"]
        );
        assert_eq!(run(&[" ```rust", " x"]), [" ```text", " x", " ```"]);
        assert_eq!(run(&[" ~~~", " [x]", " ~~~"]), [" ~~~text", " [x]", " ~~~"]);
    }

    #[test]
    fn indented_code_is_unindented() {
        assert_eq!(run(&[" a", "", "     code()"]), [" a", "", "   code()"]);
    }

    #[test]
    fn list_items_continue_at_their_content_column() {
        // Lazy continuations move to the item's content (clippy's `doc_lazy_continuation`).
        assert_eq!(
            run(&[
                " - one",
                " two",
                " 10. three",
                "   four",
                "  * five",
                " six"
            ]),
            [
                " - one",
                "   two",
                " 10. three",
                "     four",
                "  * five",
                "    six"
            ]
        );
        // A continuation indented by four or more is text, not an indented code block.
        assert_eq!(
            run(&[" Names:", "", "   - a project,", "     using strings"]),
            [" Names:", "", "   - a project,", "     using strings"]
        );
        // A paragraph after a blank line ends the list.
        assert_eq!(run(&[" - a", "", " b", " c"]), [" - a", "", " b", " c"]);
    }

    #[test]
    fn a_fence_closes_at_its_opening_indentation() {
        assert_eq!(
            run(&[
                " a",
                "",
                "         ```",
                "         x",
                "         ```",
                "",
                " b"
            ]),
            [" a", "", "    ```text", "         x", "    ```", "", " b"]
        );
    }

    #[test]
    fn brackets_html_and_urls_are_escaped_outside_code() {
        assert_eq!(
            run(&[" see [foo] and `[bar]`"]),
            [" see \\[foo\\] and `[bar]`"]
        );
        assert_eq!(run(&[" a [link](http://x.y)"]), [" a [link](http://x.y)"]);
        assert_eq!(run(&[" Vec<u8> <b>"]), [" Vec&lt;u8> &lt;b>"]);
        assert_eq!(
            run(&[" go to https://a.b/c now"]),
            [" go to <https://a.b/c> now"]
        );
        assert_eq!(run(&[" go to <https://a.b/c>"]), [" go to <https://a.b/c>"]);
        assert_eq!(run(&[" already \\[x\\]"]), [" already \\[x\\]"]);
        // A link whose text began on the line before is no link here: its URL is bare.
        assert_eq!(
            run(&[" [High", " availability](https://a.b/c)"]),
            [" \\[High", " availability\\](<https://a.b/c>)"]
        );
        assert_eq!(run(&[" (https://a.b/c)."]), [" (<https://a.b/c>)."]);
    }

    #[test]
    fn idempotent() {
        let once = run(&[" [a] <b> https://c ```", " ```", " x"]);
        let refs: Vec<&str> = once.iter().map(String::as_str).collect();
        assert_eq!(run(&refs), once);
    }
}
