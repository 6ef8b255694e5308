//! The generator's view of the input: packages, services and methods, classified by
//! streaming pattern, with every Rust name decided (and every clash resolved) here.
//!
//! A stage of the pipeline, after the checks. Takes the checked [`Descriptors`](crate::Descriptors)
//! and the [`Params`]; gives the [`Model`] (and the names of the files it read), which the
//! validation and the emitters read and never change.

use crate::error::{Diagnostic, DiagnosticKind, Location};
use crate::ident::{self, module_of};
use crate::index::{Index, ServiceEntry};
use crate::options::{
    MethodOptions, Params, RetryOption, ServiceOptions, TuningSpec, check_tuning,
};
use crate::proto::FullName;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::method_options::IdempotencyLevel;
use prost_types::{DescriptorProto, FileDescriptorProto};
use std::collections::BTreeMap;

/// The four streaming patterns of gRPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    Bidi,
}

impl Pattern {
    /// A one-line description of the guards a method of this pattern gets, for `inspect`.
    pub fn guards(self) -> &'static str {
        match self {
            Pattern::Unary => "deadline, panic -> INTERNAL",
            Pattern::ServerStreaming => {
                "deadline, panic -> INTERNAL, bounded sink, stopped on cancel"
            }
            Pattern::ClientStreaming => "deadline, panic -> INTERNAL, inbound limits",
            Pattern::Bidi => {
                "deadline, panic -> INTERNAL, bounded sink, stopped on cancel, inbound limits"
            }
        }
    }

    /// Classifies a method by its `stream` keywords.
    pub fn of(client_streaming: bool, server_streaming: bool) -> Pattern {
        match (client_streaming, server_streaming) {
            (false, false) => Pattern::Unary,
            (false, true) => Pattern::ServerStreaming,
            (true, false) => Pattern::ClientStreaming,
            (true, true) => Pattern::Bidi,
        }
    }

    /// The name used in docs and tables: `unary`, `server streaming`, ...
    pub fn label(self) -> &'static str {
        match self {
            Pattern::Unary => "unary",
            Pattern::ServerStreaming => "server streaming",
            Pattern::ClientStreaming => "client streaming",
            Pattern::Bidi => "bidi streaming",
        }
    }

    /// `true` if the client sends a stream.
    pub fn client_streams(self) -> bool {
        matches!(self, Pattern::ClientStreaming | Pattern::Bidi)
    }

    /// `true` if the server sends a stream.
    pub fn server_streams(self) -> bool {
        matches!(self, Pattern::ServerStreaming | Pattern::Bidi)
    }
}

/// A method's declared idempotency (`option idempotency_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Not declared.
    Unknown,
    /// `NO_SIDE_EFFECTS`.
    NoSideEffects,
    /// `IDEMPOTENT`.
    Idempotent,
}

/// Where a method's retry policy comes from, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrySource {
    /// `(rust_stream.method).retry`.
    Method,
    /// `(rust_stream.service).methods.retry`.
    Service,
    /// `option idempotency_level`: the runtime's `RetryPolicy::IDEMPOTENT`.
    Idempotency,
}

/// A method's retry policy, as the proto gives it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Retry {
    /// Where it comes from.
    pub(crate) source: RetrySource,
    /// The fields the proto sets (none for [`RetrySource::Idempotency`]); the others are
    /// `RetryPolicy::IDEMPOTENT`'s.
    pub(crate) policy: RetryOption,
}

// A NaN multiplier, the one value unequal to itself, is a diagnostic: a model holding one
// never reaches the emitters.
impl Eq for Retry {}

impl Retry {
    /// The policy of a method: its own `retry`, else its service's, else the runtime's
    /// `RetryPolicy::IDEMPOTENT` if it is declared idempotent or free of side effects.
    fn of(
        method: Option<&RetryOption>,
        service: Option<&RetryOption>,
        idempotency: Idempotency,
    ) -> Option<Retry> {
        let (source, policy) = match (method, service, idempotency) {
            (Some(policy), _, _) => (RetrySource::Method, policy.clone()),
            (None, Some(policy), _) => (RetrySource::Service, policy.clone()),
            (None, None, Idempotency::Unknown) => return None,
            (None, None, _) => (RetrySource::Idempotency, RetryOption::default()),
        };
        Some(Retry { source, policy })
    }

    /// Where the policy comes from.
    pub fn source(&self) -> RetrySource {
        self.source
    }

    /// The fields the proto sets; the others are `RetryPolicy::IDEMPOTENT`'s.
    pub fn policy(&self) -> &RetryOption {
        &self.policy
    }

    /// `true` if the policy retries (it does not say `max_attempts: 1`).
    pub fn retries(&self) -> bool {
        !self.policy.disables()
    }
}

/// A message's one `bytes` field, which makes it chunk-shaped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkField {
    /// The field's name in the proto.
    pub(crate) proto_name: String,
    /// The field's Rust name (as prost-build names it).
    pub(crate) rust_name: String,
}

impl ChunkField {
    /// The field's name in the proto.
    pub fn proto_name(&self) -> &str {
        &self.proto_name
    }

    /// The field's Rust name, as prost-build names it.
    pub fn rust_name(&self) -> &str {
        &self.rust_name
    }
}

/// A message type as a method or a `Chunk` impl refers to it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeRef {
    /// Fully qualified proto name (`.pkg.Msg`).
    pub(crate) proto_name: String,
    /// Rust path relative to the package's module, as prost-build resolves it
    /// (`Msg`, `outer::Inner`, `super::other::Msg`), or absolute (`is_absolute`:
    /// `::rust_stream::codegen::prost_types::Timestamp`, `crate::rt::..`, `()`).
    pub(crate) rust_path: String,
    /// Set when the message has exactly one field, of type `bytes`.
    pub(crate) chunk: Option<ChunkField>,
}

impl TypeRef {
    /// The message's fully qualified proto name (`.pkg.Msg`).
    pub fn proto_name(&self) -> &str {
        &self.proto_name
    }

    /// The message's Rust path, relative to the package's module or absolute (`::…`, `crate::…`, `()`).
    pub fn rust_path(&self) -> &str {
        &self.rust_path
    }

    /// The message's one `bytes` field, if it has exactly that one field.
    pub fn chunk(&self) -> Option<&ChunkField> {
        self.chunk.as_ref()
    }
}

/// One RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Method {
    /// Name in the proto (`GetUser`).
    pub(crate) proto_name: String,
    /// Rust name of the RPC everywhere (tonic's client and server, the handler, the config
    /// field), possibly renamed to avoid a clash (`connect` becomes `connect_`).
    pub(crate) rust_name: String,
    /// Set if `rust_name` differs from the plain snake-case name, saying why.
    pub(crate) renamed_because: Option<String>,
    /// Name of the stream client's helper for the RPC: `rust_name`, unless method-call
    /// syntax would pick a by-value trait method every type has over it (`into` becomes
    /// `into_rpc`).
    pub(crate) client_helper: String,
    /// Set if `client_helper` differs from `rust_name`, saying why.
    pub(crate) client_renamed_because: Option<String>,
    /// Name of the constant holding the gRPC path in the `paths` module.
    pub(crate) path_const: String,
    /// The gRPC path: `/pkg.Service/Method`.
    pub(crate) grpc_path: String,
    /// Streaming pattern.
    pub(crate) pattern: Pattern,
    /// Request message.
    pub(crate) request: TypeRef,
    /// Response message.
    pub(crate) response: TypeRef,
    /// Comment lines from the proto.
    pub(crate) comments: Vec<String>,
    /// `option deprecated = true`.
    pub(crate) deprecated: bool,
    /// `option idempotency_level`.
    pub(crate) idempotency: Idempotency,
    /// The retry policy of the stream client's calls, if the proto gives one.
    pub(crate) retry: Option<Retry>,
    /// Resolved `rust_stream` settings (method, service, parameters).
    pub(crate) options: MethodOptions,
    /// Name of the client's chunk upload helper, for client streaming with a chunk-shaped
    /// request.
    pub(crate) upload_helper: Option<String>,
    /// Name of the client's constant holding the upload helper's chunk size
    /// (`<PATH_CONST>_CHUNK_SIZE`), set with `upload_helper`.
    pub(crate) chunk_size_const: Option<String>,
    /// Name of the client's helper that sends request metadata and keeps the response's
    /// headers and trailers (`<name>_with_metadata`).
    pub(crate) reply_helper: Option<String>,
    /// tonic's associated response stream type (`<ProtoName>Stream`), for server streaming and
    /// bidi methods.
    pub(crate) stream_type: Option<String>,
    /// Where the method is declared.
    pub(crate) location: Location,
}

impl Method {
    /// The RPC's name in the proto (`GetUser`).
    pub fn proto_name(&self) -> &str {
        &self.proto_name
    }

    /// The RPC's Rust name everywhere (tonic's client and server, the handler, the config field), renamed where it would clash (`connect_`).
    pub fn rust_name(&self) -> &str {
        &self.rust_name
    }

    /// Why [`rust_name`](Self::rust_name) differs from the plain snake-case name, if it does.
    pub fn renamed_because(&self) -> Option<&str> {
        self.renamed_because.as_deref()
    }

    /// The stream client's helper for the RPC: the Rust name, unless a by-value trait method every type has would win over it (`into_rpc`).
    pub fn client_helper(&self) -> &str {
        &self.client_helper
    }

    /// Why [`client_helper`](Self::client_helper) differs from the Rust name, if it does.
    pub fn client_renamed_because(&self) -> Option<&str> {
        self.client_renamed_because.as_deref()
    }

    /// The gRPC path: `/pkg.Service/Method`.
    pub fn grpc_path(&self) -> &str {
        &self.grpc_path
    }

    /// The streaming pattern.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// The request message.
    pub fn request(&self) -> &TypeRef {
        &self.request
    }

    /// The response message.
    pub fn response(&self) -> &TypeRef {
        &self.response
    }

    /// The comment lines from the proto.
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// Whether the RPC is marked `option deprecated = true`.
    pub fn deprecated(&self) -> bool {
        self.deprecated
    }

    /// Where the RPC is declared.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The retry policy of the stream client's calls, if the proto gives one.
    pub fn retry(&self) -> Option<&Retry> {
        self.retry.as_ref()
    }

    /// Chunk size of the upload helper: the options' or the runtime's 64 KiB.
    pub fn chunk_size(&self) -> usize {
        self.options
            .chunk_size
            .filter(|&n| n > 0)
            .map_or(crate::options::DEFAULT_CHUNK_SIZE, |n| n as usize)
    }
}

/// One service.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Service {
    /// Name in the proto.
    pub(crate) proto_name: String,
    /// Fully qualified (`pkg.Service`, no leading dot), as in gRPC paths.
    pub(crate) full_name: String,
    /// Rust type name, as prost-build and tonic-build spell it (`StreamingExamples`), with
    /// `_` appended where tonic's code would not compile with that name (`Arc_`).
    pub(crate) rust_name: String,
    /// tonic's module prefix: `<prefix>_client`, `<prefix>_server`.
    pub(crate) tonic_module: String,
    /// Module of the stream layer: `<service_snake>_stream`.
    pub(crate) stream_module: String,
    /// tonic's client module: `<tonic_module>_client`.
    pub(crate) tonic_client_module: String,
    /// tonic's server module: `<tonic_module>_server`.
    pub(crate) tonic_server_module: String,
    /// tonic's server trait, which the adapter implements (`rust_name`).
    pub(crate) tonic_trait: String,
    /// tonic's server struct: `<rust_name>Server`.
    pub(crate) tonic_server: String,
    /// tonic's client struct: `<rust_name>Client`.
    pub(crate) tonic_client: String,
    /// The handler trait users implement: `<rust_name>Handler`.
    pub(crate) handler_trait: String,
    /// The per-method configuration struct: `<rust_name>Config`.
    pub(crate) config_struct: String,
    /// The adapter serving a handler through tonic's trait: `<rust_name>Service`.
    pub(crate) adapter: String,
    /// The tuned, pattern-shaped client: `<rust_name>StreamClient`.
    pub(crate) stream_client: String,
    /// The struct of the handler skeleton: `<rust_name>Impl`.
    pub(crate) skeleton_struct: String,
    /// The stem of the handler skeleton's file: the service's snake-case name without `r#`
    /// (`Type` -> `type`, so `mod r#type;` finds `type.rs`); a scaffold run prefixes it
    /// where two services share it.
    pub(crate) skeleton_stem: String,
    /// Comment lines from the proto.
    pub(crate) comments: Vec<String>,
    /// `option deprecated = true`.
    pub(crate) deprecated: bool,
    /// Resolved tuning.
    pub(crate) tuning: TuningSpec,
    /// The RPCs, in declaration order.
    pub(crate) methods: Vec<Method>,
    /// Where the service is declared.
    pub(crate) location: Location,
}

impl Service {
    /// The service's name in the proto.
    pub fn proto_name(&self) -> &str {
        &self.proto_name
    }

    /// The service's fully qualified name (`pkg.Service`, no leading dot), as in gRPC paths.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    /// The service's Rust type name as prost-build and tonic-build spell it, with `_` appended where tonic's code would not compile with it (`Arc_`).
    pub fn rust_name(&self) -> &str {
        &self.rust_name
    }

    /// The module of the stream layer: `<service_snake>_stream`.
    pub fn stream_module(&self) -> &str {
        &self.stream_module
    }

    /// tonic's server module: `<prefix>_server`.
    pub fn tonic_server_module(&self) -> &str {
        &self.tonic_server_module
    }

    /// tonic's server struct: `<rust_name>Server`.
    pub fn tonic_server(&self) -> &str {
        &self.tonic_server
    }

    /// The handler trait users implement: `<rust_name>Handler`.
    pub fn handler_trait(&self) -> &str {
        &self.handler_trait
    }

    /// The per-method configuration struct: `<rust_name>Config`.
    pub fn config_struct(&self) -> &str {
        &self.config_struct
    }

    /// The adapter serving a handler through tonic's trait: `<rust_name>Service`.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The tuned, pattern-shaped client: `<rust_name>StreamClient`.
    pub fn stream_client(&self) -> &str {
        &self.stream_client
    }

    /// The comment lines from the proto.
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// Whether the service is marked `option deprecated = true`.
    pub fn deprecated(&self) -> bool {
        self.deprecated
    }

    /// The RPCs, in declaration order.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Where the service is declared.
    pub fn location(&self) -> &Location {
        &self.location
    }
}

/// Everything generated for one proto package: one output file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Package {
    /// Proto package name (empty for none).
    pub(crate) name: String,
    /// Rust module path parts, as prost-build names them.
    pub(crate) module: Vec<String>,
    /// Services, in file-name then declaration order.
    pub(crate) services: Vec<Service>,
    /// Chunk-shaped messages declared in the package (`impl Chunk` targets).
    pub(crate) chunks: Vec<TypeRef>,
}

impl Package {
    /// The proto package name (empty for none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Rust module path parts, as prost-build names them.
    pub fn module(&self) -> &[String] {
        &self.module
    }

    /// The services, in file-name then declaration order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The chunk-shaped messages declared in the package (`impl Chunk` targets).
    pub fn chunks(&self) -> &[TypeRef] {
        &self.chunks
    }
}

/// The model of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Model {
    /// Packages with at least one file to generate, sorted by module path.
    pub(crate) packages: Vec<Package>,
}

impl Model {
    /// The packages with at least one file to generate, sorted by module path.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// Every service with its package, in model order.
    pub fn services(&self) -> impl Iterator<Item = (&Package, &Service)> {
        self.packages
            .iter()
            .flat_map(|p| p.services.iter().map(move |s| (p, s)))
    }

    /// Each service's handler module, distinct across the run, in model order: the stem
    /// of its skeleton file and its field in the generated `Handlers`.
    pub fn handler_modules(&self) -> Vec<String> {
        let stems: Vec<(&[String], &str)> = self
            .services()
            .map(|(p, s)| (p.module.as_slice(), s.skeleton_stem.as_str()))
            .collect();
        ident::handler_modules(&stems)
    }
}

/// Gives `methods` (of the service `full_name`) their Rust names and helpers, decided
/// together by [`ident::method_names`].
fn name_methods(full_name: &str, methods: &mut [Method]) {
    let shapes: Vec<ident::RpcShape<'_>> = methods
        .iter()
        .map(|m| ident::RpcShape {
            proto_name: &m.proto_name,
            server_streams: m.pattern.server_streams(),
            uploads_chunks: m.pattern == Pattern::ClientStreaming && m.request.chunk.is_some(),
        })
        .collect();
    let names = ident::method_names(full_name, &shapes);
    for (method, names) in methods.iter_mut().zip(names) {
        method.rust_name = names.rust_name;
        method.renamed_because = names.renamed_because;
        method.client_helper = names.client_helper;
        method.client_renamed_because = names.client_renamed_because;
        method.path_const = names.path_const;
        method.upload_helper = names.upload_helper;
        method.chunk_size_const = names.chunk_size_const;
        method.reply_helper = Some(names.reply_helper);
        method.stream_type = names.stream_type;
    }
}

/// Builds the model from checked descriptors, with every problem found (the model holds
/// what could be built despite them, for the validation to look at too).
pub(crate) fn build(index: &Index<'_>, params: &Params) -> (Model, Vec<Diagnostic>) {
    let descriptors = index.descriptors();
    let mut problems = Vec::new();
    let mut packages: BTreeMap<Vec<String>, Package> = BTreeMap::new();
    let mut files: Vec<&FileDescriptorProto> = descriptors
        .files
        .iter()
        .filter(|f| descriptors.to_generate.iter().any(|n| n == f.name()))
        .collect();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    for name in &descriptors.to_generate {
        if !descriptors.files.iter().any(|f| f.name() == name) {
            problems.push(Diagnostic {
                kind: DiagnosticKind::InvalidDescriptor,
                location: None,
                message: format!("file to generate `{name}` is not among the descriptors"),
            });
        }
    }

    for file in files {
        let module = module_of(file.package());
        let package = packages.entry(module.clone()).or_insert_with(|| Package {
            name: file.package().to_owned(),
            module,
            services: Vec::new(),
            chunks: Vec::new(),
        });
        collect_chunks(file, index, params, &mut package.chunks);
        let declared = index
            .services()
            .iter()
            .filter(|entry| std::ptr::eq(entry.file, file));
        for entry in declared {
            if let Some(service) = build_service(index, params, entry, &mut problems) {
                package.services.push(service);
            }
        }
    }
    for package in packages.values_mut() {
        package
            .chunks
            .sort_by(|a, b| a.proto_name.cmp(&b.proto_name));
        package.chunks.dedup();
    }
    let model = Model {
        packages: packages.into_values().collect(),
    };
    (model, problems)
}

/// The chunk-shaped messages `file` declares, except those mapped with `extern_path=`: their
/// code, and so their `impl Chunk`, is elsewhere (and the orphan rule forbids it here).
fn collect_chunks(
    file: &FileDescriptorProto,
    index: &Index<'_>,
    params: &Params,
    out: &mut Vec<TypeRef>,
) {
    let scope = FullName::package(file.package());
    for (name, info) in index.messages_in(&scope) {
        let name = name.as_str();
        if info.file.name() != file.name()
            || info.message.options.as_ref().is_some_and(|o| o.map_entry())
            || params.extern_path_of(name).is_some()
        {
            continue;
        }
        if let Some(type_ref) = type_ref(name, file.package(), index, params)
            && type_ref.chunk.is_some()
        {
            out.push(type_ref);
        }
    }
}

/// Whether `message` is chunk-shaped: exactly one field, a singular `bytes` field whose
/// Rust type is a plain `Vec<u8>`/`Bytes` (not `Option`).
fn chunk_field(message: &DescriptorProto, file: &FileDescriptorProto) -> Option<ChunkField> {
    let [field] = message.field.as_slice() else {
        return None;
    };
    if field.r#type() != Type::Bytes
        || field.label() == Label::Repeated
        || field.oneof_index.is_some()
        || field.proto3_optional()
    {
        return None;
    }
    let plain = match file.syntax() {
        "proto3" => true,
        // proto2: `optional bytes` is an `Option` in prost; only `required` is plain.
        "" | "proto2" => field.label() == Label::Required,
        _ => false,
    };
    plain.then(|| ChunkField {
        proto_name: field.name().to_owned(),
        rust_name: ident::to_snake(field.name()),
    })
}

/// Rust paths of the types prost-build maps to something outside the generated code, the
/// well-known types being at `well_known` ([`Params::well_known_types_path`]).
fn extern_type(proto_name: &str, well_known: &str) -> Option<String> {
    let mapped = match proto_name {
        ".google.protobuf.Empty" => "()",
        ".google.protobuf.BoolValue" => "::core::primitive::bool",
        ".google.protobuf.BytesValue" => "::prost::alloc::vec::Vec<u8>",
        ".google.protobuf.DoubleValue" => "::core::primitive::f64",
        ".google.protobuf.FloatValue" => "::core::primitive::f32",
        ".google.protobuf.Int32Value" => "::core::primitive::i32",
        ".google.protobuf.Int64Value" => "::core::primitive::i64",
        ".google.protobuf.UInt32Value" => "::core::primitive::u32",
        ".google.protobuf.UInt64Value" => "::core::primitive::u64",
        ".google.protobuf.StringValue" => "::prost::alloc::string::String",
        _ => {
            let rest = proto_name.strip_prefix(".google.protobuf.")?;
            if !is_prost_type(rest) {
                return None;
            }
            let mut parts: Vec<&str> = rest.split('.').collect();
            let last = parts.pop()?;
            let mut path: Vec<String> = vec![well_known.to_owned()];
            path.extend(parts.into_iter().map(ident::to_snake));
            path.push(ident::to_upper_camel(last));
            return Some(path.join("::"));
        }
    };
    Some(mapped.to_owned())
}

/// The messages and enums of package `google.protobuf` that prost-types provides (at its
/// root, and in `compiler` for `google.protobuf.compiler`), besides the ones
/// [`extern_type`] maps to Rust types. A type of that package not among them is the
/// user's own, generated with the user's code.
const PROST_TYPES: &[&str] = &[
    "Any",
    "Api",
    "DescriptorProto",
    "Duration",
    "Enum",
    "EnumDescriptorProto",
    "EnumOptions",
    "EnumValue",
    "EnumValueDescriptorProto",
    "EnumValueOptions",
    "ExtensionRangeOptions",
    "Field",
    "FieldDescriptorProto",
    "FieldMask",
    "FieldOptions",
    "FileDescriptorProto",
    "FileDescriptorSet",
    "FileOptions",
    "GeneratedCodeInfo",
    "ListValue",
    "MessageOptions",
    "Method",
    "MethodDescriptorProto",
    "MethodOptions",
    "Mixin",
    "NullValue",
    "OneofDescriptorProto",
    "OneofOptions",
    "Option",
    "ServiceDescriptorProto",
    "ServiceOptions",
    "SourceCodeInfo",
    "SourceContext",
    "Struct",
    "Syntax",
    "Timestamp",
    "Type",
    "UninterpretedOption",
    "Value",
];

/// The messages prost-types provides in its `compiler` module.
const PROST_COMPILER_TYPES: &[&str] = &["CodeGeneratorRequest", "CodeGeneratorResponse", "Version"];

/// The extern paths prost-build gives Google's well-known types when it maps them itself
/// (its `ExternPaths` without `compile_well_known_types`), for each type prost-types
/// provides rather than for the whole package: the wrappers and `Empty` as Rust types, the
/// others at `well_known` ([`Params::well_known_types_path`]).
pub(crate) fn prost_type_paths(well_known: &str) -> Vec<(String, String)> {
    let mut paths: Vec<(String, String)> = [
        ("BoolValue", "bool"),
        ("BytesValue", "::prost::alloc::vec::Vec<u8>"),
        ("DoubleValue", "f64"),
        ("Empty", "()"),
        ("FloatValue", "f32"),
        ("Int32Value", "i32"),
        ("Int64Value", "i64"),
        ("StringValue", "::prost::alloc::string::String"),
        ("UInt32Value", "u32"),
        ("UInt64Value", "u64"),
    ]
    .into_iter()
    .map(|(name, rust)| (format!(".google.protobuf.{name}"), rust.to_owned()))
    .collect();
    paths.extend(PROST_TYPES.iter().map(|name| {
        (
            format!(".google.protobuf.{name}"),
            format!("{well_known}::{name}"),
        )
    }));
    paths.extend(PROST_COMPILER_TYPES.iter().map(|name| {
        (
            format!(".google.protobuf.compiler.{name}"),
            format!("{well_known}::compiler::{name}"),
        )
    }));
    paths
}

/// `true` if prost-types provides `name`, a type of `google.protobuf` (`Timestamp`,
/// `FieldDescriptorProto.Type`, `compiler.Version`) written without the package.
fn is_prost_type(name: &str) -> bool {
    match name.split('.').collect::<Vec<_>>().as_slice() {
        ["compiler", top, ..] => PROST_COMPILER_TYPES.contains(top),
        [top, ..] => PROST_TYPES.contains(top),
        [] => false,
    }
}

/// `true` if `rust_path` (a [`TypeRef`]'s) means the same in every module: `()`, or a path
/// from `::` or `crate::`; otherwise it is relative to the package's module.
pub(crate) fn is_absolute(rust_path: &str) -> bool {
    rust_path == "()" || rust_path.starts_with("::") || rust_path.starts_with("crate::")
}

/// prost-build's `resolve_ident`: the path of `proto_name` from the module of `package`.
fn relative_path(proto_name: &str, package: &str) -> String {
    let mut local = package.split('.').filter(|s| !s.is_empty()).peekable();
    let mut parts = proto_name.trim_start_matches('.').split('.');
    let last = parts.next_back().unwrap_or_default();
    let mut parts = parts.peekable();
    while local.peek().is_some() && local.peek() == parts.peek() {
        local.next();
        parts.next();
    }
    local
        .map(|_| "super".to_owned())
        .chain(parts.map(ident::to_snake))
        .chain(std::iter::once(ident::to_upper_camel(last)))
        .collect::<Vec<_>>()
        .join("::")
}

fn type_ref(
    proto_name: &str,
    package: &str,
    index: &Index<'_>,
    params: &Params,
) -> Option<TypeRef> {
    if let Some(rust_path) = extern_type(proto_name, &params.well_known_types_path()) {
        return Some(TypeRef {
            proto_name: proto_name.to_owned(),
            rust_path,
            chunk: None,
        });
    }
    let info = index.message(proto_name)?;
    Some(TypeRef {
        proto_name: proto_name.to_owned(),
        rust_path: relative_path(proto_name, package),
        chunk: chunk_field(info.message, info.file),
    })
}

/// Reports each problem of `policy` (if set) at `location`, after `subject` (which option
/// of which method or service).
fn retry_problems(
    policy: Option<&RetryOption>,
    subject: &str,
    location: &Location,
    problems: &mut Vec<Diagnostic>,
) {
    for problem in policy.map(RetryOption::problems).unwrap_or_default() {
        problems.push(Diagnostic {
            kind: DiagnosticKind::InvalidOption,
            location: Some(location.clone()),
            message: format!("{subject}: {problem}"),
        });
    }
}

fn build_service(
    index: &Index<'_>,
    params: &Params,
    entry: &ServiceEntry<'_>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Service> {
    let descriptors = index.descriptors();
    let (file, service) = (entry.file, entry.service);
    let source = index.source(file);
    let location = source.location(&entry.path);
    let proto_name = service.name().to_owned();
    if !ident::is_proto_identifier(&proto_name) {
        problems.push(Diagnostic {
            kind: DiagnosticKind::InvalidName,
            location: Some(location),
            message: format!("service name `{proto_name}` is not an identifier"),
        });
        return None;
    }
    let qualified = &entry.full_name;
    let full_name = qualified.shown().to_owned();
    let service_options = descriptors
        .service_options
        .get(qualified.as_str())
        .cloned()
        .unwrap_or_default();
    let tuning = ServiceOptions::tuning(&service_options, params);
    if let Some(problem) = check_tuning(&tuning) {
        problems.push(Diagnostic {
            kind: DiagnosticKind::InvalidOption,
            location: Some(location.clone()),
            message: format!("service `{full_name}`: (rust_stream.service): {problem}"),
        });
    }
    let service_defaults = service_options.methods.unwrap_or_default();
    let service_retry = descriptors.service_retry.get(qualified.as_str());
    let subject = format!("service `{full_name}`: (rust_stream.service).methods.retry");
    retry_problems(service_retry, &subject, &location, problems);
    let mut methods = Vec::new();
    for (m, method) in service.method.iter().enumerate() {
        let path = [entry.path[0], entry.path[1], 2, m as i32];
        let location = source.location(&path);
        let name = method.name();
        if !ident::is_proto_identifier(name) {
            problems.push(Diagnostic {
                kind: DiagnosticKind::InvalidName,
                location: Some(location),
                message: format!("method name `{name}` of `{full_name}` is not an identifier"),
            });
            continue;
        }
        let mut resolve = |proto: &str, what: &str| {
            if !proto.starts_with('.') {
                problems.push(Diagnostic {
                    kind: DiagnosticKind::InvalidDescriptor,
                    location: Some(location.clone()),
                    message: format!(
                        "{what} type `{proto}` of `{full_name}.{name}` is not fully qualified"
                    ),
                });
                return None;
            }
            let found = params
                .extern_path_of(proto)
                .map(|rust_path| TypeRef {
                    proto_name: proto.to_owned(),
                    rust_path,
                    chunk: None,
                })
                .or_else(|| type_ref(proto, file.package(), index, params));
            if found.is_none() {
                problems.push(Diagnostic {
                    kind: DiagnosticKind::UnresolvedType,
                    location: Some(location.clone()),
                    message: format!(
                        "{what} type `{proto}` of `{full_name}.{name}` is not defined"
                    ),
                });
            }
            found
        };
        let request = resolve(method.input_type(), "request");
        let response = resolve(method.output_type(), "response");
        let (Some(request), Some(response)) = (request, response) else {
            continue;
        };
        let method_retry = descriptors.method_retry.get(&format!("{qualified}.{name}"));
        let subject = format!("method `{full_name}.{name}`: (rust_stream.method).retry");
        retry_problems(method_retry, &subject, &location, problems);
        let options = descriptors
            .method_options
            .get(&format!("{qualified}.{name}"))
            .copied()
            .unwrap_or_default()
            .or(service_defaults)
            .or(params.method_defaults);
        let pattern = Pattern::of(method.client_streaming(), method.server_streaming());
        let method_options = method.options.clone().unwrap_or_default();
        let idempotency = match method_options.idempotency_level() {
            IdempotencyLevel::NoSideEffects => Idempotency::NoSideEffects,
            IdempotencyLevel::Idempotent => Idempotency::Idempotent,
            IdempotencyLevel::IdempotencyUnknown => Idempotency::Unknown,
        };
        methods.push(Method {
            proto_name: name.to_owned(),
            // Named below, with the other RPCs that resolve.
            rust_name: String::new(),
            renamed_because: None,
            client_helper: String::new(),
            client_renamed_because: None,
            path_const: String::new(),
            grpc_path: format!("/{full_name}/{name}"),
            pattern,
            comments: source.comments(&path),
            deprecated: method_options.deprecated(),
            idempotency,
            retry: Retry::of(method_retry, service_retry, idempotency),
            options,
            upload_helper: None,
            chunk_size_const: None,
            reply_helper: None,
            stream_type: None,
            request,
            response,
            location,
        });
    }
    name_methods(&full_name, &mut methods);
    let rpcs: Vec<&str> = methods.iter().map(|m| m.proto_name.as_str()).collect();
    let names = ident::ServiceNames::new(&proto_name, &rpcs);
    Some(Service {
        tonic_trait: names.rust_name.clone(),
        rust_name: names.rust_name,
        tonic_module: names.tonic_module,
        tonic_client_module: names.tonic_client_module,
        tonic_server_module: names.tonic_server_module,
        tonic_server: names.tonic_server,
        tonic_client: names.tonic_client,
        stream_module: names.stream_module,
        handler_trait: names.handler_trait,
        config_struct: names.config_struct,
        adapter: names.adapter,
        stream_client: names.stream_client,
        skeleton_struct: names.skeleton_struct,
        skeleton_stem: names.skeleton_stem,
        full_name,
        comments: source.comments(&entry.path),
        deprecated: service.options.as_ref().is_some_and(|o| o.deprecated()),
        tuning,
        methods,
        location,
        proto_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_match_prost() {
        for (name, package, expected) in [
            (".a.Msg", "a", "Msg"),
            (".a.Msg.Inner", "a", "msg::Inner"),
            (".b.Msg", "a", "super::b::Msg"),
            (".a.b.Msg", "a", "b::Msg"),
            (".a.Msg", "a.b", "super::Msg"),
            (".Msg", "", "Msg"),
            (".a.Msg", "", "a::Msg"),
            (".Msg", "a", "super::Msg"),
            (".a.type.Self", "a", "r#type::Self_"),
        ] {
            assert_eq!(
                relative_path(name, package),
                expected,
                "{name} from {package}"
            );
        }
    }

    #[test]
    fn well_known_types_map_like_prost() {
        let at = "::rt::codegen::prost_types";
        assert_eq!(extern_type(".google.protobuf.Empty", at).unwrap(), "()");
        assert_eq!(
            extern_type(".google.protobuf.Timestamp", at).unwrap(),
            "::rt::codegen::prost_types::Timestamp"
        );
        assert_eq!(
            extern_type(".google.protobuf.NullValue", at).unwrap(),
            "::rt::codegen::prost_types::NullValue"
        );
        assert_eq!(extern_type(".a.B", at), None);
        // A message of the user's own in package `google.protobuf` is not prost-types'.
        assert_eq!(extern_type(".google.protobuf.Req", at), None);
        assert_eq!(
            extern_type(".google.protobuf.FieldDescriptorProto.Type", at).unwrap(),
            "::rt::codegen::prost_types::field_descriptor_proto::Type"
        );
        assert_eq!(
            extern_type(".google.protobuf.compiler.Version", at).unwrap(),
            "::rt::codegen::prost_types::compiler::Version"
        );
        assert_eq!(extern_type(".google.protobuf.compiler.Req", at), None);
    }

    #[test]
    fn absolute_paths() {
        for (path, absolute) in [
            ("()", true),
            ("::prost_types::Any", true),
            ("crate::rt::codegen::prost_types::Any", true),
            ("Msg", false),
            ("super::a::Msg", false),
            ("crate_name::Msg", false),
        ] {
            assert_eq!(is_absolute(path), absolute, "{path}");
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(Pattern::of(false, false), Pattern::Unary);
        assert_eq!(Pattern::of(true, true), Pattern::Bidi);
        assert!(Pattern::ClientStreaming.client_streams());
        assert!(!Pattern::ClientStreaming.server_streams());
    }
}
