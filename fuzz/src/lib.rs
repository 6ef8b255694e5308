//! Structure-aware fuzzing of rust-stream's generator.
//!
//! Two entry points, each fed by arbitrary bytes read as a stream of choices:
//! - [`plugin_case`]: a real `CodeGeneratorRequest` (built from the repository's protos, as
//!   protoc would send it) mutated at the descriptor level (names from a dictionary of
//!   troublesome words, syntax, streaming flags, types, labels, duplicates, dropped files and
//!   source info, parameters) or, for some inputs, the raw bytes as they come; then
//!   [`rust_stream_build::plugin::respond`];
//! - [`protox_case`]: a proto file from the repository mutated at the token level, compiled
//!   with protox ([`Descriptors::compile`]) and generated.
//!
//! Both check the same invariants ([`check_files`]): nothing panics (also panics caught
//! inside a dependency, which would print), every output file parses with `syn`, no two
//! output files share a name, and a refusal is a message, not an empty string. The fuzz
//! targets under `targets/` call these; the crate's test runs a fixed, seeded set of inputs
//! so every run of the suite repeats the same cases.

pub mod compile;

use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorProto};
use rust_stream_build::{Descriptors, GeneratedFile, Params};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Words that have broken, or could break, a code generator: Rust keywords raw-able or not,
/// prelude and common trait methods, names of common types, names of generated items,
/// underscores, case and underscore variants of one name, digits, non-ASCII, empty.
pub const TRICKY_NAMES: &[&str] = &[
    "_",
    "__",
    "___",
    "_1",
    "1a",
    "a__b",
    "a_",
    "A_",
    "self",
    "Self",
    "super",
    "crate",
    "extern",
    "type",
    "gen",
    "async",
    "await",
    "try",
    "dyn",
    "fn",
    "match",
    "mod",
    "r#type",
    "Clone",
    "clone",
    "into",
    "Into",
    "to_owned",
    "as_ref",
    "drop",
    "default",
    "eq",
    "fmt",
    "hash",
    "from",
    "Result",
    "Status",
    "Option",
    "Stream",
    "Box",
    "Vec",
    "String",
    "Send",
    "Sync",
    "Future",
    "Request",
    "Response",
    "Streaming",
    "CallContext",
    "new",
    "connect",
    "connect_tls",
    "inner",
    "paths",
    "with_timeout",
    "from_channel",
    "TUNING",
    "Ping_Pong",
    "PingPong",
    "PING_PONG",
    "pingPong",
    "Chunk",
    "CHUNK",
    "chunk",
    "Local",
    "Local_",
    "local",
    "Event",
    "EventStream",
    "event_stream",
    "EventStream_stream",
    "Service",
    "Handler",
    "Client",
    "Server",
    "server",
    "client",
    "rs",
    "mod_rs",
    "é",
    "名前",
    "",
    "a.b",
    ".a",
    "Put.",
    LONG,
];

/// Stands in the dictionary for a 300-character name.
const LONG: &str = "<long>";

/// Parameters a request may carry, valid and not.
pub const PARAMETERS: &[&str] = &[
    "",
    "include_file=mod.rs",
    "stream_only",
    "stream_only,include_file=lib.rs",
    "runtime_path=::my_runtime",
    "runtime_path=crate::rt",
    "runtime_path=a::<b>",
    "runtime_path=Vec<u8>",
    "include_file=streaming.rs",
    "include_file=sub/",
    "include_file=.",
    "tuning=low_latency",
    "tuning=nope",
    "bytes=.",
    "unknown_option=1",
    "max_total_bytes=0",
    "chunk_size=1",
    ",,,",
    "=",
];

/// Reads arbitrary bytes as a stream of choices; past the end, every choice is the first.
pub struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Choices<'a> {
    /// Choices drawn from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data, at: 0 }
    }

    /// The next byte, or 0 once the input is used up.
    pub fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let value = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        value % n
    }

    /// A word from `words`.
    pub fn pick<'w>(&mut self, words: &[&'w str]) -> &'w str {
        words[self.below(words.len())]
    }

    /// A troublesome name.
    pub fn name(&mut self) -> String {
        match self.pick(TRICKY_NAMES) {
            LONG => "N".repeat(300),
            word => word.to_owned(),
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.at..).unwrap_or_default()
    }
}

/// The repository's protos, as fuzzing starts from them.
pub struct Seeds {
    /// Encoded requests, one per root proto, as protoc sends them (options included).
    pub requests: Vec<Vec<u8>>,
    /// Root protos: (name relative to its include directory, include directory, text).
    pub protos: Vec<(String, PathBuf, String)>,
    /// Include directories every proto may import from.
    pub includes: Vec<PathBuf>,
}

/// Protos larger than this are not seeds.
const MAX_SEED_BYTES: usize = 8 * 1024;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The seeds, built once per process.
pub fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let proto_dir = repository().join("proto");
        let corpus = repository().join("generator/tests/corpus");
        let mut roots = vec![(proto_dir.clone(), "streaming.proto".to_owned())];
        let mut found = Vec::new();
        collect_protos(&corpus, &corpus, &mut found);
        found.sort();
        roots.extend(found.into_iter().map(|name| (corpus.clone(), name)));
        let includes = vec![corpus.clone(), proto_dir.clone()];
        let mut requests = Vec::new();
        let mut protos = Vec::new();
        for (dir, name) in roots {
            let Ok(text) = std::fs::read_to_string(dir.join(&name)) else {
                continue;
            };
            // The largest corpus files (hundreds of RPCs) take seconds a case and find
            // nothing their small neighbours do not.
            if text.len() > MAX_SEED_BYTES {
                continue;
            }
            if let Some(request) = request_for(&name, &includes) {
                requests.push(request);
                protos.push((name, dir, text));
            }
        }
        assert!(!requests.is_empty(), "the repository's protos compile");
        Seeds {
            requests,
            protos,
            includes,
        }
    })
}

fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_protos(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "proto")
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

// The wire layout of a request and a descriptor set, keeping each file's bytes whole so the
// `rust_stream` extension options survive (prost-types drops them).
#[derive(Clone, PartialEq, Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

/// The request protoc would send for `name`: imports first, source info for `name` only.
fn request_for(name: &str, includes: &[PathBuf]) -> Option<Vec<u8>> {
    let mut compiler = protox::Compiler::new(includes).ok()?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_file(name).ok()?;
    let set = RawSet::decode(compiler.encode_file_descriptor_set().as_slice()).ok()?;
    let mut files = Vec::new();
    for (raw, file) in set
        .file
        .into_iter()
        .zip(compiler.file_descriptor_set().file)
    {
        if file.name() == name {
            files.push(raw);
        } else {
            // Imports come without source info, as from protoc.
            let mut file = file;
            file.source_code_info = None;
            files.push(file.encode_to_vec());
        }
    }
    Some(
        RawRequest {
            file_to_generate: vec![name.to_owned()],
            parameter: None,
            proto_file: files,
        }
        .encode_to_vec(),
    )
}

/// Serializes the cases of one process: panics are recorded process-wide.
static RUNNING: Mutex<()> = Mutex::new(());

/// Panics seen while a case ran, caught or not.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Set while a case runs: panics outside cases (a test's own assertions) print as usual.
static IN_CASE: AtomicBool = AtomicBool::new(false);

fn install_panic_recorder() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CASE.load(Ordering::SeqCst) {
                return previous(info);
            }
            PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.to_string());
            if std::env::var_os("RUST_STREAM_FUZZ_VERBOSE").is_some() {
                previous(info);
            }
        }));
    });
}

/// Runs `case` with panics recorded; any panic, even one caught inside the generator,
/// is a finding.
fn guarded(case: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    install_panic_recorder();
    PANICS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    IN_CASE.store(true, Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case))
        .unwrap_or_else(|_| Err("the case panicked".to_owned()));
    IN_CASE.store(false, Ordering::SeqCst);
    let panics = std::mem::take(&mut *PANICS.lock().unwrap_or_else(|e| e.into_inner()));
    match (outcome, panics.first()) {
        (_, Some(panic)) => Err(format!("a panic happened: {panic}")),
        (outcome, None) => outcome,
    }
}

/// Checks generated files: unique, plain relative names; every `.rs` file parses.
pub fn check_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), String> {
    let mut names = BTreeSet::new();
    for (name, content) in files {
        if !names.insert(name.to_owned()) {
            return Err(format!("two output files are named `{name}`"));
        }
        let path = Path::new(name);
        if name.is_empty()
            || name.ends_with('/')
            || path.is_absolute()
            || path.file_stem().is_none_or(|s| s.is_empty())
            || path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "output file name `{name}` is not a plain relative path"
            ));
        }
        if name.ends_with(".rs") {
            syn::parse_file(content)
                .map_err(|err| format!("output file `{name}` does not parse: {err}"))?;
        }
    }
    Ok(())
}

fn check_refusal(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("a refusal with an empty message".to_owned());
    }
    if message.contains("panicked") {
        return Err(format!("a refusal reports a panic: {message}"));
    }
    Ok(())
}

/// The request of a plugin case: a seed request mutated by `data`'s choices, or `data`
/// itself for inputs whose first byte is 0.
pub fn plugin_request(data: &[u8]) -> Vec<u8> {
    let mut choices = Choices::new(data);
    if choices.byte() == 0 {
        choices.rest().to_vec()
    } else {
        mutated_request(&mut choices)
    }
}

/// One plugin case: [`plugin_request`] answered by the plugin.
pub fn plugin_case(data: &[u8]) -> Result<(), String> {
    let request = plugin_request(data);
    guarded(|| match rust_stream_build::plugin::respond(&request) {
        // Not a request at all: the plugin exits non-zero with this message.
        Err(err) => check_refusal(&err.to_string()),
        Ok(response) => match &response.error {
            Some(error) => check_refusal(error),
            None => check_files(response.file.iter().map(|f| {
                (
                    f.name.as_deref().unwrap_or(""),
                    f.content.as_deref().unwrap_or(""),
                )
            })),
        },
    })
}

/// A seed request with descriptor-level mutations chosen by `choices`.
pub fn mutated_request(choices: &mut Choices<'_>) -> Vec<u8> {
    let seeds = seeds();
    let seed = &seeds.requests[choices.below(seeds.requests.len())];
    let raw = RawRequest::decode(seed.as_slice()).expect("seeds decode");
    if choices.below(8) == 0 {
        // A foreign option on rust_stream's extension number: a new service whose method
        // carries `51200` as a varint, appended to a file to generate.
        let mut raw = raw;
        let at = raw.proto_file.len() - 1;
        raw.proto_file[at].extend_from_slice(&foreign_option_service(choices.byte()));
        raw.parameter = Some(choices.pick(PARAMETERS).to_owned());
        return raw.encode_to_vec();
    }
    let mut request = CodeGeneratorRequest::decode(seed.as_slice()).expect("seeds decode");
    for _ in 0..=choices.below(6) {
        mutate(&mut request, choices);
    }
    request.encode_to_vec()
}

/// The bytes of field 6 (`service`) of a file: `service F { rpc M(.x.Y) returns (.x.Y)
/// { option (other_tool) = n; } }` with the option on number 51200.
fn foreign_option_service(value: u8) -> Vec<u8> {
    let mut options = vec![0x80, 0xa0, 0x19]; // field 51200, varint
    options.push(value & 0x7f);
    let method = prost_types::MethodDescriptorProto {
        name: Some("M".into()),
        input_type: Some(".google.protobuf.Empty".into()),
        output_type: Some(".google.protobuf.Empty".into()),
        ..Default::default()
    };
    let mut method = method.encode_to_vec();
    method.push(0x22); // field 4, options
    method.push(options.len() as u8);
    method.extend_from_slice(&options);
    let mut service = vec![0x0a, 1, b'F', 0x12];
    service.push(method.len() as u8);
    service.extend_from_slice(&method);
    let mut out = vec![0x32];
    out.push(service.len() as u8);
    out.extend_from_slice(&service);
    out
}

/// Every message of a file, nested ones included: its full name and its index path.
fn messages_of(file: &FileDescriptorProto) -> Vec<(String, Vec<usize>)> {
    fn walk(
        prefix: &str,
        path: &[usize],
        messages: &[DescriptorProto],
        out: &mut Vec<(String, Vec<usize>)>,
    ) {
        for (i, message) in messages.iter().enumerate() {
            let name = format!("{prefix}.{}", message.name());
            let mut here = path.to_vec();
            here.push(i);
            walk(&name, &here, &message.nested_type, out);
            out.push((name, here));
        }
    }
    let prefix = if file.package().is_empty() {
        String::new()
    } else {
        format!(".{}", file.package())
    };
    let mut out = Vec::new();
    walk(&prefix, &[], &file.message_type, &mut out);
    out
}

/// The message at an index path [`messages_of`] returned.
fn message_at<'a>(file: &'a mut FileDescriptorProto, path: &[usize]) -> &'a mut DescriptorProto {
    let (first, rest) = path.split_first().expect("paths are not empty");
    let mut message = &mut file.message_type[*first];
    for &i in rest {
        message = &mut message.nested_type[i];
    }
    message
}

/// A message of the file chosen by `choices`, if it has any.
fn pick_message<'a>(
    file: &'a mut FileDescriptorProto,
    choices: &mut Choices<'_>,
) -> Option<(String, &'a mut DescriptorProto)> {
    let messages = messages_of(file);
    if messages.is_empty() {
        return None;
    }
    let (name, path) = messages[choices.below(messages.len())].clone();
    Some((name, message_at(file, &path)))
}

/// Replaces every reference to the type `from` with `to` in the request.
fn retarget(request: &mut CodeGeneratorRequest, from: &str, to: &str) {
    fn in_message(message: &mut DescriptorProto, from: &str, to: &str) {
        for field in &mut message.field {
            if field.type_name.as_deref() == Some(from) {
                field.type_name = Some(to.to_owned());
            }
        }
        for nested in &mut message.nested_type {
            in_message(nested, from, to);
        }
    }
    for file in &mut request.proto_file {
        for message in &mut file.message_type {
            in_message(message, from, to);
        }
        for service in &mut file.service {
            for method in &mut service.method {
                if method.input_type.as_deref() == Some(from) {
                    method.input_type = Some(to.to_owned());
                }
                if method.output_type.as_deref() == Some(from) {
                    method.output_type = Some(to.to_owned());
                }
            }
        }
    }
}

/// One descriptor-level mutation.
fn mutate(request: &mut CodeGeneratorRequest, choices: &mut Choices<'_>) {
    let files = request.proto_file.len();
    if files == 0 {
        return;
    }
    // Mostly the files to generate: that is where the generator looks hardest.
    let index = if choices.below(4) == 0 {
        choices.below(files)
    } else {
        files - 1
    };
    match choices.below(16) {
        0 => {
            // Rename a message, and usually its uses, so the request stays consistent.
            let new_name = choices.name();
            let keep_consistent = choices.below(4) != 0;
            let Some((old, message)) = pick_message(&mut request.proto_file[index], choices) else {
                return;
            };
            message.name = Some(new_name.clone());
            let new = match old.rsplit_once('.') {
                Some((prefix, _)) => format!("{prefix}.{new_name}"),
                None => format!(".{new_name}"),
            };
            if keep_consistent {
                retarget(request, &old, &new);
            }
        }
        1 => {
            let file = &mut request.proto_file[index];
            let old = file.package().to_owned();
            let new = choices.name();
            file.package = Some(new.clone());
            if choices.below(4) != 0 {
                let old_prefix = if old.is_empty() {
                    ".".to_owned()
                } else {
                    format!(".{old}.")
                };
                let new_prefix = if new.is_empty() {
                    ".".to_owned()
                } else {
                    format!(".{new}.")
                };
                let renames: Vec<(String, String)> = type_names(request)
                    .into_iter()
                    .filter_map(|t| {
                        let rest = t.strip_prefix(&old_prefix)?;
                        Some((t.clone(), format!("{new_prefix}{rest}")))
                    })
                    .collect();
                for (from, to) in renames {
                    retarget(request, &from, &to);
                }
            }
        }
        2 => {
            if let Some(service) = pick_mut(&mut request.proto_file[index].service, choices) {
                service.name = Some(choices.name());
            }
        }
        3 => {
            if let Some(method) = pick_method(request, index, choices) {
                method.name = Some(choices.name());
            }
        }
        4 => {
            if let Some(method) = pick_method(request, index, choices) {
                let streams = choices.below(4);
                method.client_streaming = Some(streams & 1 == 1);
                method.server_streaming = Some(streams & 2 == 2);
            }
        }
        5 => {
            let types = type_names(request);
            let pick = choices.below(types.len() + 6);
            let target = types.get(pick).cloned().unwrap_or_else(|| {
                choices
                    .pick(&[
                        ".google.protobuf.Empty",
                        ".google.protobuf.Timestamp",
                        "NotQualified",
                        ".not.Defined",
                        "",
                        ".",
                    ])
                    .to_owned()
            });
            let input = choices.below(2) == 0;
            if let Some(method) = pick_method(request, index, choices) {
                if input {
                    method.input_type = Some(target);
                } else {
                    method.output_type = Some(target);
                }
            }
        }
        6 => {
            let syntax = choices.pick(&["", "proto2", "proto3", "editions", "proto4"]);
            request.proto_file[index].syntax = Some(syntax.to_owned());
        }
        7 => {
            // Duplicate a message, a service or a method: clashes.
            let file = &mut request.proto_file[index];
            match choices.below(3) {
                0 if !file.message_type.is_empty() => {
                    let m = file.message_type[choices.below(file.message_type.len())].clone();
                    file.message_type.push(m);
                }
                1 if !file.service.is_empty() => {
                    let s = file.service[choices.below(file.service.len())].clone();
                    file.service.push(s);
                }
                _ => {
                    if let Some(service) = pick_mut(&mut file.service, choices)
                        && !service.method.is_empty()
                    {
                        let m = service.method[choices.below(service.method.len())].clone();
                        service.method.push(m);
                    }
                }
            }
        }
        8 => {
            if request.proto_file.len() > 1 {
                request.proto_file.remove(choices.below(files - 1));
            }
        }
        9 => match choices.below(3) {
            0 => request.file_to_generate.push(choices.name()),
            1 => request.file_to_generate.clear(),
            _ => {
                let name = request.proto_file[choices.below(files)].name().to_owned();
                request.file_to_generate.push(name);
            }
        },
        10 => {
            let name = choices.name();
            if let Some((_, message)) = pick_message(&mut request.proto_file[index], choices)
                && let Some(field) = pick_mut(&mut message.field, choices)
            {
                match choices.below(6) {
                    0 => field.name = Some(name),
                    1 => field.r#type = Some(choices.below(20) as i32),
                    2 => field.label = Some(choices.below(5) as i32),
                    3 => field.type_name = None,
                    4 => field.oneof_index = Some(choices.below(4) as i32),
                    _ => field.proto3_optional = Some(choices.below(2) == 0),
                }
            }
        }
        11 => {
            let file = &mut request.proto_file[index];
            match choices.below(3) {
                0 => file.source_code_info = None,
                1 => {
                    if let Some(info) = &mut file.source_code_info {
                        for location in &mut info.location {
                            location.span.truncate(choices.below(4));
                        }
                    }
                }
                _ => {
                    if let Some(info) = &mut file.source_code_info {
                        info.location.clear();
                    }
                }
            }
        }
        12 => request.parameter = Some(choices.pick(PARAMETERS).to_owned()),
        13 => {
            // A map entry of the wrong shape, or a message marked as one.
            let keep = choices.below(3);
            if let Some((_, message)) = pick_message(&mut request.proto_file[index], choices) {
                message
                    .options
                    .get_or_insert_with(Default::default)
                    .map_entry = Some(true);
                message.field.truncate(keep);
            }
        }
        14 => {
            let file = &mut request.proto_file[index];
            let name = choices.name();
            if let Some(e) = pick_mut(&mut file.enum_type, choices) {
                if choices.below(2) == 0 || e.value.is_empty() {
                    e.name = Some(name);
                } else {
                    let at = choices.below(e.value.len());
                    e.value[at].name = Some(name);
                }
            } else {
                file.enum_type.push(prost_types::EnumDescriptorProto {
                    name: Some(name),
                    value: vec![prost_types::EnumValueDescriptorProto {
                        name: Some("ZERO".into()),
                        number: Some(0),
                        options: None,
                    }],
                    ..Default::default()
                });
            }
        }
        _ => {
            // A new message next to the others with a troublesome name and a bytes field:
            // chunk-shaped, with its name and field chosen.
            let file = &mut request.proto_file[index];
            file.message_type.push(DescriptorProto {
                name: Some(choices.name()),
                field: vec![prost_types::FieldDescriptorProto {
                    name: Some(choices.name()),
                    number: Some(1),
                    label: Some(Label::Optional as i32),
                    r#type: Some(Type::Bytes as i32),
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
    }
}

fn pick_mut<'a, T>(items: &'a mut [T], choices: &mut Choices<'_>) -> Option<&'a mut T> {
    if items.is_empty() {
        return None;
    }
    let at = choices.below(items.len());
    items.get_mut(at)
}

fn pick_method<'a>(
    request: &'a mut CodeGeneratorRequest,
    index: usize,
    choices: &mut Choices<'_>,
) -> Option<&'a mut prost_types::MethodDescriptorProto> {
    let service = pick_mut(&mut request.proto_file[index].service, choices)?;
    pick_mut(&mut service.method, choices)
}

/// Full names of the messages of every file.
fn type_names(request: &CodeGeneratorRequest) -> Vec<String> {
    request
        .proto_file
        .iter()
        .flat_map(|f| messages_of(f).into_iter().map(|(name, _)| name))
        .collect()
}

/// The input of a protox case: a repository proto (its name relative to its include
/// directory) mutated at the token level by `data`'s choices, and a parameter string.
pub fn protox_input(data: &[u8]) -> (&'static str, String, &'static str) {
    let mut choices = Choices::new(data);
    let seeds = seeds();
    let (name, _, text) = &seeds.protos[choices.below(seeds.protos.len())];
    let mutated = mutate_text(text, &mut choices);
    (name, mutated, choices.pick(PARAMETERS))
}

/// One protox case: [`protox_input`] compiled with protox and generated.
pub fn protox_case(data: &[u8]) -> Result<(), String> {
    let (name, mutated, parameter) = protox_input(data);
    let seeds = seeds();
    let dir = tempfile::tempdir().map_err(|err| format!("a temporary directory: {err}"))?;
    // The same name as the seed, so the seed's own imports and package layout still hold;
    // the temporary directory comes first among the includes.
    let path = dir.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| err.to_string())?;
    }
    std::fs::write(&path, &mutated).map_err(|err| err.to_string())?;
    let mut includes = vec![dir.path().to_owned()];
    includes.extend(seeds.includes.iter().cloned());
    guarded(|| {
        let descriptors = match Descriptors::compile(&[&path], &includes) {
            Ok(descriptors) => descriptors,
            Err(err) => return check_refusal(&err.to_string()),
        };
        let params = match Params::parse(parameter) {
            Ok(params) => params,
            Err(err) => return check_refusal(&err.to_string()),
        };
        match rust_stream_build::generate(&descriptors, &params) {
            Err(err) => check_refusal(&err.to_string()),
            Ok(files) => check_files(
                files
                    .iter()
                    .map(|GeneratedFile { name, content }| (name.as_str(), content.as_str())),
            ),
        }
    })
}

/// Token-level mutations of proto text: identifiers replaced by troublesome names, tokens
/// dropped or doubled, `stream` added or removed, numbers changed, lines duplicated.
pub fn mutate_text(text: &str, choices: &mut Choices<'_>) -> String {
    let mut tokens = tokenize(text);
    for _ in 0..=choices.below(6) {
        if tokens.is_empty() {
            break;
        }
        let at = choices.below(tokens.len());
        match choices.below(7) {
            0 | 1 => {
                if tokens[at]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                {
                    let replacement = choices.name();
                    // Every occurrence, usually, so the proto stays consistent.
                    if choices.below(3) != 0 {
                        let old = tokens[at].clone();
                        for token in &mut tokens {
                            if *token == old {
                                *token = replacement.clone();
                            }
                        }
                    } else {
                        tokens[at] = replacement;
                    }
                }
            }
            2 => {
                tokens.remove(at);
            }
            3 => {
                let token = tokens[at].clone();
                tokens.insert(at, token);
            }
            4 => {
                if tokens[at] == "stream" {
                    tokens.remove(at);
                } else if tokens[at] == "(" {
                    tokens.insert(at + 1, "stream ".to_owned());
                }
            }
            5 => {
                if tokens[at].chars().all(|c| c.is_ascii_digit()) {
                    tokens[at] = choices
                        .pick(&["0", "1", "19000", "536870911", "536870912", "51200", "2"])
                        .to_owned();
                }
            }
            _ => {
                let extra = choices.pick(&[
                    "message Result { bytes data = 1; }\n",
                    "message Status { string s = 1; }\n",
                    "enum Option { OPTION_UNSPECIFIED = 0; }\n",
                    "message PingPong {}\nmessage Ping_Pong {}\n",
                    "service _ { }\n",
                    "message Stream { map<string, Stream> m = 1; oneof o { int32 a = 2; } }\n",
                    "extend google.protobuf.MethodOptions { int32 other_tool = 51200; }\n",
                ]);
                tokens.push(extra.to_owned());
            }
        }
    }
    tokens.concat()
}

/// Splits proto text into identifier, number, string, space and punctuation tokens, so that
/// concatenating them gives the text back.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let mut end = start + c.len_utf8();
        let same_kind = |d: char| -> bool {
            if c.is_alphanumeric() || c == '_' {
                d.is_alphanumeric() || d == '_'
            } else if c.is_whitespace() {
                d.is_whitespace()
            } else {
                false
            }
        };
        if c == '"' {
            for (i, d) in chars.by_ref() {
                end = i + d.len_utf8();
                if d == '"' {
                    break;
                }
            }
        } else {
            while let Some(&(i, d)) = chars.peek() {
                if !same_kind(d) {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
        }
        tokens.push(text[start..end].to_owned());
    }
    tokens
}

/// Deterministic pseudo-random inputs (xorshift) for the seeded runs of the test suite.
pub fn seeded_inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..count).map(move |_| {
        let len = 8 + (next() % 120) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Structured mode: a first byte of 0 would hand the raw bytes to the plugin.
        if input[0] == 0 {
            input[0] = 1;
        }
        input
    })
}
