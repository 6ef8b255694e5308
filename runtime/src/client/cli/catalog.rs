//! The methods of the descriptor set: decoding it, finding a method by the name a user
//! types, and listing them all.

use super::error::CliError;
use heck::ToSnakeCase;
use prost::Message;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use prost_types::FileDescriptorSet;
use std::fmt;

/// Every method of every service in a descriptor set, sorted by path.
#[derive(Debug)]
pub(super) struct Catalog {
    methods: Vec<Method>,
}

/// One method and the facts the client needs about it.
#[derive(Clone, Debug)]
pub(super) struct Method {
    descriptor: MethodDescriptor,
}

/// The four gRPC communication patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pattern {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Both directions stream.
    Bidi,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pattern::Unary => "unary",
            Pattern::ServerStreaming => "server streaming",
            Pattern::ClientStreaming => "client streaming",
            Pattern::Bidi => "bidi",
        })
    }
}

impl Catalog {
    /// Decodes an encoded `FileDescriptorSet` (with its imports), refusing one that does not
    /// decode or resolve, or that has no methods.
    pub(super) fn decode(descriptor_set: &[u8]) -> Result<Catalog, CliError> {
        let pool = decode_pool(descriptor_set).map_err(|why| {
            CliError::Internal(format!("the program's descriptor set is not valid: {why}"))
        })?;
        let mut methods: Vec<Method> = pool
            .services()
            .flat_map(|service| service.methods().collect::<Vec<_>>())
            .map(|descriptor| Method { descriptor })
            .collect();
        if methods.is_empty() {
            return Err(CliError::Internal(
                "the program's descriptor set has no service methods".into(),
            ));
        }
        methods.sort_by_key(Method::path);
        Ok(Catalog { methods })
    }

    /// The method `query` names: `package.Service/Method`, `Service/Method`, the dotted
    /// full name, or the method's name alone (proto spelling or snake_case) if unique. An
    /// unknown or ambiguous name is refused with the names that would do.
    pub(super) fn find(&self, query: &str) -> Result<&Method, CliError> {
        let query = query.strip_prefix('/').unwrap_or(query);
        let found: Vec<&Method> = self
            .methods
            .iter()
            .filter(|m| m.answers_to(query))
            .collect();
        match found.as_slice() {
            [method] => Ok(method),
            [] => Err(CliError::usage(format!(
                "unknown method `{query}`; the methods are:\n{}",
                bulleted(self.methods.iter())
            ))),
            several => Err(CliError::usage(format!(
                "method `{query}` is ambiguous; name one of:\n{}",
                bulleted(several.iter().copied())
            ))),
        }
    }

    /// One line per method: path, pattern, request and response types, aligned in columns.
    pub(super) fn listing(&self) -> String {
        let path_width = self
            .methods
            .iter()
            .map(|m| m.path().len())
            .max()
            .unwrap_or(0);
        let pattern_width = "client streaming".len();
        let mut out = String::new();
        for method in &self.methods {
            let upload = match method.chunk_field() {
                Some(_) => "  (accepts --upload FILE)",
                None => "",
            };
            out.push_str(&format!(
                "{:path_width$}  {:pattern_width$}  {} -> {}{upload}\n",
                method.path(),
                method.pattern().to_string(),
                method.input().full_name(),
                method.output().full_name(),
            ));
        }
        out
    }
}

/// The descriptor pool of an encoded set, or why not.
///
/// prost-reflect 0.16 panics on some malformed sets (a file whose `syntax` it does not
/// know, `editions` included, indexes a file it has not stored yet); those are refused here,
/// and any other panic of the decoder is caught, quietly, and reported as an error.
fn decode_pool(descriptor_set: &[u8]) -> Result<DescriptorPool, String> {
    let raw = FileDescriptorSet::decode(descriptor_set).map_err(|err| err.to_string())?;
    if let Some(file) = raw
        .file
        .iter()
        .find(|file| !matches!(file.syntax.as_deref(), None | Some("proto2" | "proto3")))
    {
        return Err(format!(
            "{} has syntax `{}`, which this client does not read",
            file.name(),
            file.syntax()
        ));
    }
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let decoded = std::panic::catch_unwind(|| DescriptorPool::decode(descriptor_set));
    std::panic::set_hook(quiet);
    match decoded {
        Ok(pool) => pool.map_err(|err| err.to_string()),
        Err(_) => Err("its decoder failed on it".into()),
    }
}

/// The paths of `methods`, one per indented line.
fn bulleted<'a>(methods: impl Iterator<Item = &'a Method>) -> String {
    methods
        .map(|m| format!("  {}", m.path()))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Method {
    /// `package.Service/Method`: the gRPC path without its leading `/`.
    pub(super) fn path(&self) -> String {
        format!(
            "{}/{}",
            self.descriptor.parent_service().full_name(),
            self.descriptor.name()
        )
    }

    /// The method's streaming pattern.
    pub(super) fn pattern(&self) -> Pattern {
        match (
            self.descriptor.is_client_streaming(),
            self.descriptor.is_server_streaming(),
        ) {
            (false, false) => Pattern::Unary,
            (false, true) => Pattern::ServerStreaming,
            (true, false) => Pattern::ClientStreaming,
            (true, true) => Pattern::Bidi,
        }
    }

    /// The request message type.
    pub(super) fn input(&self) -> MessageDescriptor {
        self.descriptor.input()
    }

    /// The response message type.
    pub(super) fn output(&self) -> MessageDescriptor {
        self.descriptor.output()
    }

    /// For a chunk-shaped client-streaming method (a request of exactly one singular `bytes`
    /// field), that field.
    pub(super) fn chunk_field(&self) -> Option<FieldDescriptor> {
        if self.pattern() != Pattern::ClientStreaming {
            return None;
        }
        let input = self.input();
        let mut fields = input.fields();
        match (fields.next(), fields.next()) {
            (Some(field), None) if field.kind() == Kind::Bytes && !field.is_list() => Some(field),
            _ => None,
        }
    }

    /// Whether `query` names this method (see [`Catalog::find`]).
    fn answers_to(&self, query: &str) -> bool {
        let service = self.descriptor.parent_service();
        match query.split_once('/') {
            Some((service_query, method_query)) => {
                (service_query == service.full_name() || service_query == service.name())
                    && self.name_is(method_query)
            }
            None => query == self.descriptor.full_name() || self.name_is(query),
        }
    }

    /// Whether `name` is this method's name as in the proto or in snake_case.
    fn name_is(&self, name: &str) -> bool {
        let own = self.descriptor.name();
        name == own || name == own.to_snake_case()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cli::fixture::descriptor_set;

    fn catalog() -> Catalog {
        Catalog::decode(&descriptor_set()).unwrap()
    }

    fn found(query: &str) -> String {
        match catalog().find(query) {
            Ok(method) => method.path(),
            Err(err) => panic!("{query}: {err}"),
        }
    }

    fn refused(query: &str) -> String {
        match catalog().find(query) {
            Ok(method) => panic!("{query} found {}", method.path()),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_method_is_found_by_every_unique_spelling() {
        let cases = [
            ("a.Store/Get", "a.Store/Get"),
            ("/b.Store/Get", "b.Store/Get"),
            ("b.Store/get", "b.Store/Get"),
            ("a.Store.Get", "a.Store/Get"),
            ("Put", "a.Store/Put"),
            ("put", "a.Store/Put"),
            ("Store/Watch", "a.Store/Watch"),
            ("Talk/chat", "b.Talk/Chat"),
        ];
        for (query, path) in cases {
            assert_eq!(found(query), path, "{query}");
        }
    }

    #[test]
    fn an_ambiguous_name_lists_the_candidates() {
        for query in ["Get", "get", "Store/Get"] {
            assert_eq!(
                refused(query),
                format!(
                    "method `{query}` is ambiguous; name one of:\n  a.Store/Get\n  b.Store/Get"
                )
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_every_method() {
        let all = "  a.Store/Get\n  a.Store/Put\n  a.Store/Watch\n  b.Store/Get\n  \
                   b.Talk/Chat\n  b.Talk/Send";
        for query in ["Nope", "c.Store/Get", "Store/", "/", ""] {
            assert_eq!(
                refused(query),
                format!(
                    "unknown method `{}`; the methods are:\n{all}",
                    query.trim_start_matches('/')
                )
            );
        }
    }

    #[test]
    fn patterns_and_chunk_shape() {
        let catalog = catalog();
        let facts = |query: &str| {
            let method = catalog.find(query).unwrap();
            (
                method.pattern(),
                method.chunk_field().map(|f| f.name().to_owned()),
            )
        };
        assert_eq!(facts("a.Store/Get"), (Pattern::Unary, None));
        assert_eq!(facts("Watch"), (Pattern::ServerStreaming, None));
        assert_eq!(
            facts("Put"),
            (Pattern::ClientStreaming, Some("data".into()))
        );
        // A stream of two-field messages is not chunk-shaped, nor is a bidi one of chunks.
        assert_eq!(facts("Send"), (Pattern::ClientStreaming, None));
        assert_eq!(facts("Chat"), (Pattern::Bidi, None));
    }

    #[test]
    fn the_listing_has_a_line_per_method() {
        assert_eq!(
            catalog().listing(),
            "\
a.Store/Get    unary             a.Req -> a.Res
a.Store/Put    client streaming  a.Blob -> a.Res  (accepts --upload FILE)
a.Store/Watch  server streaming  a.Req -> a.Res
b.Store/Get    unary             a.Req -> a.Res
b.Talk/Chat    bidi              a.Blob -> a.Res
b.Talk/Send    client streaming  a.Res -> a.Res
"
        );
    }

    #[test]
    fn malformed_descriptor_sets_are_refused_without_panicking() {
        assert!(matches!(
            Catalog::decode(b"\xff\xff\xff not a descriptor set"),
            Err(CliError::Internal(_))
        ));
        assert!(matches!(Catalog::decode(b""), Err(CliError::Internal(_))));
        // Every truncation and every byte changed: each decodes or is refused, none panics.
        let set = descriptor_set();
        for len in 0..set.len() {
            let _ = Catalog::decode(&set[..len]);
        }
        for at in 0..set.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = set.clone();
                bad[at] ^= flip;
                let _ = Catalog::decode(&bad);
            }
        }
    }
}
