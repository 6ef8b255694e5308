//! What an existing skeleton file holds: its top-level trait `impl` blocks, the methods in
//! them with their lines and stub markers, and whether the scaffold wrote it. The file is the
//! user's and need not compile, so it is read with a small lexer rather than parsed: comments,
//! strings and character literals are skipped, so that braces and names in them do not
//! count, and every token keeps its 1-based line.

use crate::emit::skeleton::{MARKER, RPC_MARKER};
use crate::ident::unraw;
use crate::model::Pattern;

/// A stub's marker comment, `// rust-stream: rpc <Name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The RPC's proto name.
    pub rpc: String,
    /// 1-based line of the comment.
    pub line: usize,
}

/// A method of a trait `impl` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImplMethod {
    /// Its name as written (`r#type`).
    pub name: String,
    /// 1-based line of its `fn`.
    pub line: usize,
    /// The marker comment that starts its stub, if it has one.
    pub marker: Option<Marker>,
    /// The pattern its parameters spell, if it takes a `CallContext` like a handler method:
    /// a `RequestStream` for a client stream, a `ResponseSink` for a server stream.
    pub pattern: Option<Pattern>,
}

/// A trait `impl` block at the top level of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraitImpl {
    /// The trait's name, the last segment of its path, without `r#`.
    pub trait_name: String,
    /// The name of the implementing type, without `r#`.
    pub self_type: String,
    /// 1-based line of `impl`.
    pub line: usize,
    /// Its methods, in order.
    pub methods: Vec<ImplMethod>,
}

/// An existing skeleton file, as far as scaffolding needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandlerFile {
    /// The trait `impl` blocks at the top level, in order.
    pub impls: Vec<TraitImpl>,
    /// The file has the scaffold's insertion marker or a stub marker.
    pub scaffolded: bool,
}

impl HandlerFile {
    /// Reads `text`; never fails: what cannot be made out is left out.
    pub fn read(text: &str) -> HandlerFile {
        let tokens = lex(text);
        let scaffolded = tokens.iter().any(|t| match t.token {
            Token::Comment(comment) => {
                comment.trim_end() == MARKER.trim_start() || marker_rpc(comment).is_some()
            }
            _ => false,
        });
        HandlerFile {
            impls: trait_impls(&tokens),
            scaffolded,
        }
    }

    /// The `impl` blocks of traits named `…Handler`.
    pub fn handler_impls(&self) -> impl Iterator<Item = &TraitImpl> {
        self.impls
            .iter()
            .filter(|i| i.trait_name.ends_with("Handler"))
    }
}

/// What the lexer keeps: names and keywords, punctuation, and line comments (for markers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Punct(char),
    Comment(&'a str),
}

#[derive(Clone, Copy, Debug)]
struct Lexed<'a> {
    token: Token<'a>,
    line: usize,
}

/// The RPC a marker comment names.
fn marker_rpc(comment: &str) -> Option<&str> {
    let rpc = comment.trim_end().strip_prefix(RPC_MARKER)?;
    (!rpc.is_empty() && !rpc.contains(char::is_whitespace)).then_some(rpc)
}

fn is_word_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric() || b >= 0x80
}

/// The tokens of `text`, each with its line.
fn lex(text: &str) -> Vec<Lexed<'_>> {
    let bytes = text.as_bytes();
    let mut lexer = Lexer {
        text,
        bytes,
        at: 0,
        line: 1,
        out: Vec::new(),
    };
    while lexer.at < bytes.len() {
        lexer.next();
    }
    lexer.out
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    line: usize,
    out: Vec<Lexed<'a>>,
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn push(&mut self, token: Token<'a>) {
        self.out.push(Lexed {
            token,
            line: self.line,
        });
    }

    /// Moves to `end`, counting the lines passed.
    fn skip_to(&mut self, end: usize) {
        let end = end.min(self.bytes.len());
        self.line += self.bytes[self.at..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.at = end;
    }

    fn next(&mut self) {
        let byte = self.bytes[self.at];
        match byte {
            b'/' if self.peek(1) == Some(b'/') => {
                let end = self.text[self.at..]
                    .find('\n')
                    .map_or(self.bytes.len(), |n| self.at + n);
                self.push(Token::Comment(&self.text[self.at..end]));
                self.at = end;
            }
            b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
            b'"' => self.string(self.at + 1),
            b'\'' => self.quote(),
            b if b.is_ascii_digit() => {
                let end = self.word_end(self.at);
                self.at = end;
            }
            b if is_word_byte(b) => self.word(),
            b if b.is_ascii_whitespace() => self.skip_to(self.at + 1),
            b => {
                self.push(Token::Punct(char::from(b)));
                self.at += 1;
            }
        }
    }

    fn word_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|b| !is_word_byte(*b))
            .map_or(self.bytes.len(), |n| from + n)
    }

    /// A name or keyword; a raw name (`r#type`); or the prefix of a raw, byte or C string.
    fn word(&mut self) {
        let end = self.word_end(self.at);
        let word = &self.text[self.at..end];
        let next = self.bytes.get(end).copied();
        let raw_prefix = matches!(word, "r" | "br" | "cr");
        if raw_prefix && matches!(next, Some(b'"' | b'#')) {
            let hashes = self.bytes[end..].iter().take_while(|b| **b == b'#').count();
            let after = end + hashes;
            if word == "r" && hashes == 1 && self.bytes.get(after).is_some_and(|b| is_word_byte(*b))
            {
                let name_end = self.word_end(after);
                self.push(Token::Word(&self.text[self.at..name_end]));
                self.at = name_end;
            } else if self.bytes.get(after) == Some(&b'"') {
                self.raw_string(after + 1, hashes);
            } else {
                self.push(Token::Word(word));
                self.at = end;
            }
            return;
        }
        if matches!(word, "b" | "c") && next == Some(b'"') {
            self.at = end;
            self.string(end + 1);
            return;
        }
        if word == "b" && next == Some(b'\'') {
            self.at = end;
            self.quote();
            return;
        }
        self.push(Token::Word(word));
        self.at = end;
    }

    /// A string whose text starts at `from`, up to its closing quote.
    fn string(&mut self, from: usize) {
        let mut i = from;
        while let Some(b) = self.bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        self.skip_to(i + 1);
    }

    /// A raw string whose text starts at `from`, up to `"` and `hashes` `#`.
    fn raw_string(&mut self, from: usize, hashes: usize) {
        let close = format!("\"{}", "#".repeat(hashes));
        let end = self.text[from..]
            .find(&close)
            .map_or(self.bytes.len(), |n| from + n + close.len());
        self.skip_to(end);
    }

    /// A nested block comment.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        let mut i = self.at;
        while i < self.bytes.len() {
            match (self.bytes[i], self.bytes.get(i + 1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    i += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                }
                _ => i += 1,
            }
        }
        self.skip_to(i);
    }

    /// A character literal (`'x'`, `'\n'`), or the quote of a lifetime or label, whose name
    /// is read as a word next.
    fn quote(&mut self) {
        let rest = &self.text[self.at + 1..];
        if rest.starts_with('\\') {
            // The closing quote comes after the escaped character (`'\''`).
            let escaped = rest.char_indices().nth(2).map_or(rest.len(), |(n, _)| n);
            let end = rest[escaped..]
                .find('\'')
                .map_or(self.bytes.len(), |n| self.at + 1 + escaped + n + 1);
            self.skip_to(end);
            return;
        }
        let literal = rest
            .chars()
            .next()
            .filter(|c| rest[c.len_utf8()..].starts_with('\''));
        match literal {
            Some(c) => self.skip_to(self.at + 1 + c.len_utf8() + 1),
            None => self.at += 1,
        }
    }
}

/// The trait `impl` blocks at the top level of the token stream.
fn trait_impls(tokens: &[Lexed<'_>]) -> Vec<TraitImpl> {
    let mut impls = Vec::new();
    let mut depth = 0usize;
    let mut previous: Option<Token<'_>> = None;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].token;
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => depth = depth.saturating_sub(1),
            Token::Word("impl") if depth == 0 && starts_item(previous) => {
                if let Some((found, next)) = trait_impl(tokens, i) {
                    impls.push(found);
                    previous = Some(Token::Punct('}'));
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        if !matches!(token, Token::Comment(_)) {
            previous = Some(token);
        }
        i += 1;
    }
    impls
}

/// `impl` after these starts an item (elsewhere it is `impl Trait` in a type).
fn starts_item(previous: Option<Token<'_>>) -> bool {
    matches!(
        previous,
        None | Some(Token::Punct('}' | ';' | ']') | Token::Word("unsafe"))
    )
}

/// The trait `impl` block starting at `tokens[at]` (`impl`), and the index after it; `None`
/// for an inherent `impl`.
fn trait_impl(tokens: &[Lexed<'_>], at: usize) -> Option<(TraitImpl, usize)> {
    let significant = |i: &usize| !matches!(tokens[*i].token, Token::Comment(_));
    let mut i = at + 1;
    if tokens.get(i)?.token == Token::Punct('<') {
        i = after_angles(tokens, i)?;
    }
    // The trait's path, up to `for`.
    let mut trait_name = None;
    let mut angles = 0usize;
    loop {
        match tokens.get(i)?.token {
            Token::Word("for") if angles == 0 => break,
            Token::Punct('{' | ';') => return None,
            Token::Punct('<') => angles += 1,
            Token::Punct('>') if !follows_dash(tokens, i) => angles = angles.saturating_sub(1),
            Token::Word(word) if angles == 0 => trait_name = Some(word),
            _ => {}
        }
        i += 1;
    }
    // The implementing type, up to `where` or the body.
    let mut self_type = None;
    let mut in_where = false;
    angles = 0;
    loop {
        i += 1;
        match tokens.get(i)?.token {
            Token::Punct('{') => break,
            Token::Punct(';') => return None,
            Token::Punct('<') => angles += 1,
            Token::Punct('>') if !follows_dash(tokens, i) => angles = angles.saturating_sub(1),
            Token::Word("where") => in_where = true,
            Token::Word(word) if angles == 0 && !in_where => self_type = Some(word),
            _ => {}
        }
    }
    let mut methods = Vec::new();
    let mut depth = 1usize;
    let mut marker: Option<Marker> = None;
    while depth > 0 {
        i += 1;
        let Some(lexed) = tokens.get(i) else { break };
        match lexed.token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if depth == 1 {
                    marker = None;
                }
            }
            Token::Punct(';') if depth == 1 => marker = None,
            Token::Comment(comment) if depth == 1 => {
                if let Some(rpc) = marker_rpc(comment) {
                    marker = Some(Marker {
                        rpc: rpc.to_owned(),
                        line: lexed.line,
                    });
                }
            }
            Token::Word("fn") if depth == 1 => {
                let Some(at) = (i + 1..tokens.len()).find(significant) else {
                    continue;
                };
                if let Token::Word(name) = tokens[at].token {
                    methods.push(ImplMethod {
                        name: name.to_owned(),
                        line: lexed.line,
                        marker: marker.take(),
                        pattern: pattern(tokens, at + 1),
                    });
                }
            }
            _ => {}
        }
    }
    let found = TraitImpl {
        trait_name: unraw(trait_name?).to_owned(),
        self_type: unraw(self_type.unwrap_or("")).to_owned(),
        line: tokens[at].line,
        methods,
    };
    Some((found, i + 1))
}

/// `->`: its `>` closes no angle bracket.
fn follows_dash(tokens: &[Lexed<'_>], i: usize) -> bool {
    i > 0 && tokens[i - 1].token == Token::Punct('-')
}

/// The index after the `<..>` group starting at `tokens[at]`.
fn after_angles(tokens: &[Lexed<'_>], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, lexed) in tokens.iter().enumerate().skip(at) {
        match lexed.token {
            Token::Punct('<') => depth += 1,
            Token::Punct('>') if !follows_dash(tokens, i) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The pattern the parameter list starting at `tokens[at]` (`(`) spells, if it takes a
/// `CallContext`.
fn pattern(tokens: &[Lexed<'_>], at: usize) -> Option<Pattern> {
    let open = (at..tokens.len()).find(|i| !matches!(tokens[*i].token, Token::Comment(_)))?;
    if tokens[open].token != Token::Punct('(') {
        return None;
    }
    let mut depth = 0usize;
    let mut words = Vec::new();
    for lexed in &tokens[open..] {
        match lexed.token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Word(word) => words.push(word),
            _ => {}
        }
    }
    if !words.contains(&"CallContext") {
        return None;
    }
    let client = words.contains(&"RequestStream");
    let server = words.contains(&"ResponseSink");
    Some(match (client, server) {
        (false, false) => Pattern::Unary,
        (false, true) => Pattern::ServerStreaming,
        (true, false) => Pattern::ClientStreaming,
        (true, true) => Pattern::Bidi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r###"//! A skeleton with the things that trip a naive reader.

use crate::pb::{Item, Req};
use crate::pb::shop_stream::ShopHandler;

/// Not a `{` in a doc comment } nor here: "{", '{', r#"}"#, b"{", '\'', /* { /* nested } */ */
#[derive(Debug, Default)]
pub struct ShopImpl;

fn helper() -> impl Iterator<Item = u8> {
    std::iter::empty()
}

impl<'a> From<&'a str> for Wrapper<'a> {
    fn from(s: &'a str) -> Self {
        Wrapper(s)
    }
}

#[allow(deprecated)]
impl ShopHandler for ShopImpl {
    // rust-stream: rpc GetItem
    async fn get_item(&self, ctx: CallContext, request: Req) -> Result<Item, Status> {
        let s = "fn fake() {";
        let c = '}';
        fn nested() {}
        Err(Status::unimplemented(s))
    }

    // rust-stream: rpc Upload
    /// Documented by hand.
    #[tracing::instrument]
    async fn r#type(
        &self,
        ctx: ::rust_stream::CallContext,
        mut requests: ::rust_stream::RequestStream<Req>,
        sink: ResponseSink<Item>,
    ) -> Result<(), Status> {
        todo!()
    }

    fn helper_by_hand(&self) -> u8 {
        0
    }

    // rust-stream: new RPCs are added above this line.
}
"###;

    #[test]
    fn reads_trait_impls_methods_lines_markers_and_patterns() {
        let file = HandlerFile::read(FILE);
        assert!(file.scaffolded);
        let impls: Vec<(&str, &str, usize)> = file
            .impls
            .iter()
            .map(|i| (i.trait_name.as_str(), i.self_type.as_str(), i.line))
            .collect();
        assert_eq!(
            impls,
            [("From", "Wrapper", 14), ("ShopHandler", "ShopImpl", 21)]
        );
        let methods = &file.impls[1].methods;
        let marker = |rpc: &str, line| {
            Some(Marker {
                rpc: rpc.to_owned(),
                line,
            })
        };
        assert_eq!(
            methods,
            &[
                ImplMethod {
                    name: "get_item".to_owned(),
                    line: 23,
                    marker: marker("GetItem", 22),
                    pattern: Some(Pattern::Unary),
                },
                ImplMethod {
                    name: "r#type".to_owned(),
                    line: 33,
                    marker: marker("Upload", 30),
                    pattern: Some(Pattern::Bidi),
                },
                ImplMethod {
                    name: "helper_by_hand".to_owned(),
                    line: 42,
                    marker: None,
                    pattern: None,
                },
            ]
        );
        assert_eq!(file.handler_impls().count(), 1);
    }

    /// Every prefix of a file, cut anywhere (in a string, a comment, a raw name, a character
    /// literal), reads without panicking.
    #[test]
    fn any_prefix_reads_without_panicking() {
        let text = format!("{FILE}'\\u{{1F600}}' 'é' r##\"a\"# b\"##\n");
        for (at, _) in text.char_indices() {
            let _ = HandlerFile::read(&text[..at]);
        }
    }

    #[test]
    fn a_file_without_markers_is_not_scaffolded_and_broken_text_does_not_panic() {
        let file = HandlerFile::read("impl FooHandler for Foo { fn a(&self) {} }\n");
        assert!(!file.scaffolded);
        assert_eq!(file.impls[0].methods[0].name, "a");
        for text in [
            "impl",
            "impl X for",
            "impl X for Y {",
            "\"unterminated",
            "/* open",
            "'",
            "r#\"raw",
            "b'",
            "impl A for B { fn",
        ] {
            let _ = HandlerFile::read(text);
        }
    }
}
