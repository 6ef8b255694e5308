//! Protobuf editions 2023 and 2024, lowered to the proto2 or proto3 descriptor prost-build
//! reads.
//!
//! prost-build 0.14 reads only proto2 and proto3 (it panics on `syntax = "editions"`), and
//! prost-types drops a file's `edition` and every element's `features`. So the features are
//! read from the same encoded descriptors through the small views below, resolved per
//! element (edition defaults, then file, message, oneof, field; enums from their scope), and
//! each editions file is rewritten as the descriptor that makes prost-build emit the same
//! wire behaviour:
//!
//! - `field_presence`: `LEGACY_REQUIRED` becomes `required`; a file with an `IMPLICIT`
//!   field becomes proto3, where the remaining `EXPLICIT` scalar, enum and group fields
//!   become proto3 `optional` (with their synthetic oneof); otherwise the file is proto2,
//!   where every singular field has presence.
//! - `repeated_field_encoding`: every packable repeated field gets an explicit `packed`.
//! - `message_encoding = DELIMITED`: the field becomes a group (prost encodes any message
//!   type as a group, wherever it is declared). Map values stay length-prefixed, as in
//!   protoc's runtimes.
//! - `enum_type` and `utf8_validation` change nothing prost-build emits (it generates the
//!   same code for open and closed enums and validates every `string`); they are checked
//!   for known values only. `json_format` (prost has no JSON), edition 2024's
//!   `enforce_naming_style` and `default_symbol_visibility` (protoc enforces them) and
//!   language features such as `features.(pb.cpp)` are not read.
//!
//! A value the generator does not know (a newer edition or feature value) is refused,
//! naming the element and the feature.
//!
//! A stage of the pipeline, after loading and before the index. Takes the loaded
//! [`Descriptors`](crate::Descriptors), with the encoded form of each editions file; gives
//! them with every editions file lowered, and the problems found.

use crate::error::{Diagnostic, DiagnosticKind};
use crate::load::Descriptors;
use crate::proto::{FullName, SourceIndex};
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, OneofDescriptorProto,
};
use std::borrow::Cow;

/// `EDITION_PROTO2`, the oldest edition the generator reads (as `syntax = "proto2"`).
pub const MINIMUM_EDITION: i32 = 998;
/// `EDITION_2023`.
pub const EDITION_2023: i32 = 1000;
/// `EDITION_2024`, the newest edition the generator reads.
pub const MAXIMUM_EDITION: i32 = 1001;

// `FeatureSet` values (descriptor.proto).
const EXPLICIT: i32 = 1;
const IMPLICIT: i32 = 2;
const LEGACY_REQUIRED: i32 = 3;
const PACKED: i32 = 1;
const EXPANDED: i32 = 2;
const LENGTH_PREFIXED: i32 = 1;
const DELIMITED: i32 = 2;

/// The features of `google.protobuf.FeatureSet` that decide what prost-build is given, each
/// unset unless written (or, once resolved, always set). The others (`json_format`, 2024's
/// `enforce_naming_style` and `default_symbol_visibility`, language features) change nothing
/// prost generates and are not read.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub(crate) struct Features {
    #[prost(int32, optional, tag = "1")]
    pub field_presence: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub enum_type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub repeated_field_encoding: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub utf8_validation: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    pub message_encoding: Option<i32>,
}

/// Each feature's name and known values, in tag order, for the checks and messages.
const KNOWN: [(&str, &[i32]); 5] = [
    ("field_presence", &[1, 2, 3]),
    ("enum_type", &[1, 2]),
    ("repeated_field_encoding", &[1, 2]),
    ("utf8_validation", &[2, 3]),
    ("message_encoding", &[1, 2]),
];

impl Features {
    fn values(&self) -> [Option<i32>; 5] {
        [
            self.field_presence,
            self.enum_type,
            self.repeated_field_encoding,
            self.utf8_validation,
            self.message_encoding,
        ]
    }

    /// The defaults of `edition`, as protoc's `--edition_defaults_out` gives them (a unit
    /// test compares the two): the same for 2023 and 2024, which changes only features that
    /// are not read here.
    pub(crate) fn defaults(edition: i32) -> Option<Features> {
        (EDITION_2023..=MAXIMUM_EDITION)
            .contains(&edition)
            .then_some(Features {
                field_presence: Some(EXPLICIT),
                enum_type: Some(1),
                repeated_field_encoding: Some(PACKED),
                utf8_validation: Some(2),
                message_encoding: Some(LENGTH_PREFIXED),
            })
    }

    /// These features where `child` sets them, the parent's (`self`) elsewhere.
    fn child(&self, child: Option<&Features>) -> Features {
        let Some(child) = child else { return *self };
        Features {
            field_presence: child.field_presence.or(self.field_presence),
            enum_type: child.enum_type.or(self.enum_type),
            repeated_field_encoding: child
                .repeated_field_encoding
                .or(self.repeated_field_encoding),
            utf8_validation: child.utf8_validation.or(self.utf8_validation),
            message_encoding: child.message_encoding.or(self.message_encoding),
        }
    }
}

/// An options message seen only for its `features` field (at a different tag in each).
macro_rules! options_view {
    ($($name:ident = $tag:literal),* $(,)?) => {$(
        #[derive(Clone, PartialEq, Message)]
        struct $name {
            #[prost(message, optional, tag = $tag)]
            features: Option<Features>,
        }
    )*};
}
options_view!(
    FileOptionsView = "50",
    MessageOptionsView = "12",
    FieldOptionsView = "21",
    OneofOptionsView = "1",
    EnumOptionsView = "7",
);

#[derive(Clone, PartialEq, Message)]
struct FileView {
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<MessageView>,
    #[prost(message, repeated, tag = "5")]
    enum_type: Vec<EnumView>,
    #[prost(message, repeated, tag = "7")]
    extension: Vec<FieldView>,
    #[prost(message, optional, tag = "8")]
    options: Option<FileOptionsView>,
    #[prost(int32, optional, tag = "14")]
    edition: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct MessageView {
    #[prost(message, repeated, tag = "2")]
    field: Vec<FieldView>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<MessageView>,
    #[prost(message, repeated, tag = "4")]
    enum_type: Vec<EnumView>,
    #[prost(message, repeated, tag = "6")]
    extension: Vec<FieldView>,
    #[prost(message, optional, tag = "7")]
    options: Option<MessageOptionsView>,
    #[prost(message, repeated, tag = "8")]
    oneof_decl: Vec<OneofView>,
}

#[derive(Clone, PartialEq, Message)]
struct FieldView {
    #[prost(message, optional, tag = "8")]
    options: Option<FieldOptionsView>,
}

#[derive(Clone, PartialEq, Message)]
struct OneofView {
    #[prost(message, optional, tag = "2")]
    options: Option<OneofOptionsView>,
}

#[derive(Clone, PartialEq, Message)]
struct EnumView {
    #[prost(message, optional, tag = "3")]
    options: Option<EnumOptionsView>,
}

/// Lowers every editions file of `descriptors` to proto2 or proto3, reading its features
/// from the encoded descriptor loading kept; the problems found come first among the
/// descriptors'. Borrowed when no file uses editions.
pub fn lower(descriptors: &Descriptors) -> Cow<'_, Descriptors> {
    let editions = |file: &FileDescriptorProto| file.syntax.as_deref() == Some("editions");
    if !descriptors.files.iter().any(editions) {
        return Cow::Borrowed(descriptors);
    }
    let mut files = descriptors.files.clone();
    let mut problems = Vec::new();
    for file in files.iter_mut().filter(|file| editions(file)) {
        // Without its encoded form (a file built from prost-types values) it stays as it is,
        // for the checks to refuse.
        let Some(encoded) = descriptors.encoded(file.name()) else {
            continue;
        };
        match FileView::decode(encoded) {
            Ok(view) => lower_file(file, &view, &mut problems),
            Err(err) => problems.push(undecodable(&err)),
        }
    }
    Cow::Owned(descriptors.lowered(files, problems))
}

fn undecodable(err: &prost::DecodeError) -> Diagnostic {
    Diagnostic::new(
        DiagnosticKind::InvalidDescriptor,
        None,
        format!("the descriptors' editions features do not decode: {err}"),
    )
}

/// Rewrites one editions file as its proto2 or proto3 equivalent.
fn lower_file(file: &mut FileDescriptorProto, view: &FileView, problems: &mut Vec<Diagnostic>) {
    Lowering {
        source: FileDescriptorProto {
            name: file.name.clone(),
            source_code_info: file.source_code_info.clone(),
            ..FileDescriptorProto::default()
        },
        problems,
        proto3: false,
    }
    .file(file, view);
}

/// Where a field is declared, which decides what its features can change.
#[derive(Clone, Copy, PartialEq)]
enum FieldKind {
    /// A field of a message, outside any oneof.
    Plain,
    /// A member of a real oneof: it always has presence.
    Oneof,
    /// A map: its entries are length-prefixed messages whatever the scope's encoding, as
    /// in protoc.
    Map,
    /// An extension (prost-build generates none).
    Extension,
}

struct Lowering<'a> {
    /// The file's name and source info, for the locations of problems.
    source: FileDescriptorProto,
    problems: &'a mut Vec<Diagnostic>,
    /// Whether the file becomes proto3 (it has an `IMPLICIT` field).
    proto3: bool,
}

impl Lowering<'_> {
    fn file(&mut self, file: &mut FileDescriptorProto, view: &FileView) {
        let edition = view.edition.unwrap_or_default();
        let Some(defaults) = Features::defaults(edition) else {
            let what = match edition {
                0 => "its syntax is `editions` but it names no edition".to_owned(),
                _ => format!("edition {} is not supported", edition_name(edition)),
            };
            self.refuse(
                &[],
                format!("{what}; rust-stream reads proto2, proto3 and editions 2023 and 2024"),
            );
            // Lowered anyway so nothing later panics on the syntax; the problem stops the run.
            file.syntax = Some("proto2".into());
            return;
        };
        let features = self.features(
            &[],
            "the file",
            &defaults,
            view.options.as_ref().and_then(|o| o.features.as_ref()),
        );
        let prefix = FullName::package(file.package());
        // Enums change nothing prost-build emits: their features are only checked.
        self.enums(&[5], &prefix, &features, &view.enum_type, &file.enum_type);
        self.proto3 = implicit_anywhere(file, view, &features);
        let mut messages = std::mem::take(&mut file.message_type);
        for (i, (message, view)) in messages.iter_mut().zip(&view.message_type).enumerate() {
            self.message(&[4, i as i32], &prefix, message, view, &features);
        }
        file.message_type = messages;
        let mut extensions = std::mem::take(&mut file.extension);
        for (i, (field, view)) in extensions.iter_mut().zip(&view.extension).enumerate() {
            let what = format!("extension `{}`", prefix.child(field.name()).shown());
            self.field(
                &[7, i as i32],
                &what,
                field,
                view,
                &features,
                FieldKind::Extension,
            );
        }
        file.extension = extensions;
        file.syntax = Some(if self.proto3 { "proto3" } else { "proto2" }.into());
    }

    fn message(
        &mut self,
        path: &[i32],
        scope: &FullName,
        message: &mut DescriptorProto,
        view: &MessageView,
        parent: &Features,
    ) {
        let full = scope.child(message.name());
        let what = format!("message `{}`", full.shown());
        let features = self.features(
            path,
            &what,
            parent,
            view.options.as_ref().and_then(|o| o.features.as_ref()),
        );
        // Map entries are synthesized: their key and value are what prost's maps encode
        // (a length-prefixed value, as in protoc's runtimes), whatever the scope says.
        if message.options.as_ref().is_some_and(|o| o.map_entry()) {
            return;
        }
        let oneofs: Vec<Features> = view
            .oneof_decl
            .iter()
            .zip(&message.oneof_decl)
            .enumerate()
            .map(|(i, (oneof, decl))| {
                let at = [path, &[8, i as i32]].concat();
                let what = format!("oneof `{}`", full.child(decl.name()).shown());
                self.features(
                    &at,
                    &what,
                    &features,
                    oneof.options.as_ref().and_then(|o| o.features.as_ref()),
                )
            })
            .collect();
        let map_entries: Vec<String> = message
            .nested_type
            .iter()
            .filter(|m| m.options.as_ref().is_some_and(|o| o.map_entry()))
            .map(|m| full.child(m.name()).into())
            .collect();
        let mut fields = std::mem::take(&mut message.field);
        let mut synthetic = Vec::new();
        for (i, (field, view)) in fields.iter_mut().zip(&view.field).enumerate() {
            let what = format!("field `{}`", full.child(field.name()).shown());
            let oneof = field
                .oneof_index
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| oneofs.get(o));
            let kind = if oneof.is_some() {
                FieldKind::Oneof
            } else if field.label() == Label::Repeated
                && map_entries.iter().any(|m| m == field.type_name())
            {
                FieldKind::Map
            } else {
                FieldKind::Plain
            };
            let at = [path, &[2, i as i32]].concat();
            if self.field(&at, &what, field, view, oneof.unwrap_or(&features), kind) {
                synthetic.push(i);
            }
        }
        // proto3 `optional` fields each get a synthetic oneof after the real ones, as protoc
        // makes them (prost-build skips them, `check` expects them).
        for i in synthetic {
            let name = synthetic_oneof_name(message, &fields, fields[i].name());
            fields[i].oneof_index = Some(message.oneof_decl.len() as i32);
            message.oneof_decl.push(OneofDescriptorProto {
                name: Some(name),
                options: None,
            });
        }
        message.field = fields;
        let mut extensions = std::mem::take(&mut message.extension);
        for (i, (field, view)) in extensions.iter_mut().zip(&view.extension).enumerate() {
            let what = format!("extension `{}`", full.child(field.name()).shown());
            let at = [path, &[6, i as i32]].concat();
            self.field(&at, &what, field, view, &features, FieldKind::Extension);
        }
        message.extension = extensions;
        self.enums(
            &[path, &[4]].concat(),
            &full,
            &features,
            &view.enum_type,
            &message.enum_type,
        );
        let mut nested = std::mem::take(&mut message.nested_type);
        for (i, (inner, view)) in nested.iter_mut().zip(&view.nested_type).enumerate() {
            self.message(
                &[path, &[3, i as i32]].concat(),
                &full,
                inner,
                view,
                &features,
            );
        }
        message.nested_type = nested;
    }

    fn enums(
        &mut self,
        path: &[i32],
        scope: &FullName,
        parent: &Features,
        views: &[EnumView],
        enums: &[prost_types::EnumDescriptorProto],
    ) {
        for (i, (view, e)) in views.iter().zip(enums).enumerate() {
            let what = format!("enum `{}`", scope.child(e.name()).shown());
            let at = [path, &[i as i32]].concat();
            self.features(
                &at,
                &what,
                parent,
                view.options.as_ref().and_then(|o| o.features.as_ref()),
            );
        }
    }

    /// Lowers one field; returns whether it became proto3 `optional` and needs a synthetic
    /// oneof.
    fn field(
        &mut self,
        path: &[i32],
        what: &str,
        field: &mut FieldDescriptorProto,
        view: &FieldView,
        parent: &Features,
        kind: FieldKind,
    ) -> bool {
        let features = self.features(
            path,
            what,
            parent,
            view.options.as_ref().and_then(|o| o.features.as_ref()),
        );
        if features.message_encoding == Some(DELIMITED)
            && field.r#type() == Type::Message
            && kind != FieldKind::Map
        {
            field.set_type(Type::Group);
        }
        if field.label() == Label::Repeated {
            if can_pack(field.r#type()) {
                field.options.get_or_insert_with(Default::default).packed =
                    Some(features.repeated_field_encoding != Some(EXPANDED));
            }
            return false;
        }
        if kind != FieldKind::Plain {
            return false;
        }
        // Resolved features are all set (from the edition's defaults).
        match features.field_presence.unwrap_or(EXPLICIT) {
            LEGACY_REQUIRED => {
                field.set_label(Label::Required);
                false
            }
            // Message fields have presence whatever the scope says, as in protoc.
            IMPLICIT if !has_message_type(field) => false,
            _ => {
                // In proto3, prost gives presence to singular message fields only: other
                // fields with presence (groups too) must be proto3 `optional`.
                let optional = self.proto3 && field.r#type() != Type::Message;
                if optional {
                    field.proto3_optional = Some(true);
                }
                optional
            }
        }
    }

    /// `parent`'s features overridden by `own`, after checking `own`'s values.
    fn features(
        &mut self,
        path: &[i32],
        what: &str,
        parent: &Features,
        own: Option<&Features>,
    ) -> Features {
        if let Some(own) = own {
            for ((name, known), value) in KNOWN.iter().zip(own.values()) {
                if let Some(value) = value.filter(|v| !known.contains(v)) {
                    self.refuse(
                        path,
                        format!("{what}: `features.{name}` has value {value}, which rust-stream does not know; it reads editions 2023 and 2024"),
                    );
                }
            }
        }
        parent.child(own)
    }

    fn refuse(&mut self, path: &[i32], message: String) {
        self.problems.push(Diagnostic::new(
            DiagnosticKind::Unsupported,
            Some(SourceIndex::new(&self.source).location(path)),
            message,
        ));
    }
}

/// Whether any singular field outside a oneof resolves to `IMPLICIT` presence (the file
/// then needs proto3, the only syntax with such fields in prost).
fn implicit_anywhere(file: &FileDescriptorProto, view: &FileView, features: &Features) -> bool {
    fn walk(message: &DescriptorProto, view: &MessageView, parent: &Features) -> bool {
        let own = parent.child(view.options.as_ref().and_then(|o| o.features.as_ref()));
        if message.options.as_ref().is_some_and(|o| o.map_entry()) {
            return false;
        }
        let fields = message.field.iter().zip(&view.field).any(|(field, view)| {
            let features = own.child(view.options.as_ref().and_then(|o| o.features.as_ref()));
            field.label() != Label::Repeated
                && field.oneof_index.is_none()
                && !has_message_type(field)
                && features.field_presence == Some(IMPLICIT)
        });
        fields
            || message
                .nested_type
                .iter()
                .zip(&view.nested_type)
                .any(|(m, v)| walk(m, v, &own))
    }
    file.message_type
        .iter()
        .zip(&view.message_type)
        .any(|(m, v)| walk(m, v, features))
}

fn has_message_type(field: &FieldDescriptorProto) -> bool {
    matches!(field.r#type(), Type::Message | Type::Group)
}

/// protoc's name for the synthetic oneof of proto3 `optional` field `field`: `_field`,
/// prefixed with `X` until no field, oneof or nested type uses it.
fn synthetic_oneof_name(
    message: &DescriptorProto,
    fields: &[FieldDescriptorProto],
    field: &str,
) -> String {
    let mut name = format!("_{field}");
    let taken = |name: &str| {
        fields.iter().any(|f| f.name() == name)
            || message.oneof_decl.iter().any(|o| o.name() == name)
            || message.nested_type.iter().any(|m| m.name() == name)
            || message.enum_type.iter().any(|e| e.name() == name)
    };
    while taken(&name) {
        name.insert(0, 'X');
    }
    name
}

fn edition_name(edition: i32) -> String {
    match edition {
        998 => "PROTO2".to_owned(),
        999 => "PROTO3".to_owned(),
        1000 => "2023".to_owned(),
        1001 => "2024".to_owned(),
        1002 => "2026".to_owned(),
        9999 => "UNSTABLE".to_owned(),
        other => format!("number {other}"),
    }
}

/// Whether a repeated field of this type can be packed (prost-build's rule).
fn can_pack(ty: Type) -> bool {
    !matches!(ty, Type::String | Type::Bytes | Type::Message | Type::Group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Descriptors;
    use std::path::Path;
    use std::process::Command;

    fn protoc() -> Command {
        let mut cmd = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap());
        cmd.arg("-I")
            .arg(protoc_bin_vendored::include_path().unwrap());
        cmd
    }

    /// prost-types values cannot carry features: an editions file built from them (not
    /// decoded from bytes, so not lowered) is refused before prost-build sees it.
    #[test]
    fn editions_files_built_from_prost_types_are_refused() {
        let mut descriptors = Descriptors::default();
        descriptors.files.push(FileDescriptorProto {
            name: Some("h.proto".into()),
            syntax: Some("editions".into()),
            ..FileDescriptorProto::default()
        });
        descriptors.to_generate.push("h.proto".into());
        let err = crate::generate(&descriptors, &crate::Params::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("h.proto: an editions file must be read from an encoded"),
            "{err}"
        );
    }

    #[derive(Clone, PartialEq, Message)]
    struct FeatureSetDefaults {
        #[prost(message, repeated, tag = "1")]
        defaults: Vec<EditionDefault>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct EditionDefault {
        #[prost(int32, optional, tag = "3")]
        edition: Option<i32>,
        #[prost(message, optional, tag = "4")]
        overridable_features: Option<Features>,
        #[prost(message, optional, tag = "5")]
        fixed_features: Option<Features>,
    }

    /// The embedded defaults are protoc's (`--edition_defaults_out`), feature by feature.
    #[test]
    fn defaults_are_protocs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("defaults.pb");
        let status = protoc()
            .arg(format!("--edition_defaults_out={}", out.display()))
            .args([
                "--edition_defaults_minimum=2023",
                "--edition_defaults_maximum=2024",
                "google/protobuf/descriptor.proto",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let defaults = FeatureSetDefaults::decode(std::fs::read(&out).unwrap().as_slice()).unwrap();
        let mut seen = Vec::new();
        for default in defaults.defaults {
            let edition = default.edition.unwrap();
            if edition < EDITION_2023 {
                continue;
            }
            let overridable = default.overridable_features.unwrap_or_default();
            let protocs = overridable.child(default.fixed_features.as_ref());
            assert_eq!(
                Features::defaults(edition),
                Some(protocs),
                "edition {edition}"
            );
            seen.push(edition);
        }
        assert_eq!(seen, [EDITION_2023, MAXIMUM_EDITION]);
    }

    /// What the corpus's files become, element by element (protoc's descriptor set, as the
    /// build API's protoc path reads it).
    #[test]
    fn the_corpus_lowers_to_proto2_and_proto3() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/editions");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("set.pb");
        let status = protoc()
            .arg("-I")
            .arg(&corpus)
            .arg(format!("--descriptor_set_out={}", out.display()))
            .args(["implicit.proto", "explicit.proto"])
            .status()
            .unwrap();
        assert!(status.success());
        let loaded =
            Descriptors::from_file_descriptor_set(&std::fs::read(&out).unwrap(), &[]).unwrap();
        assert_eq!(
            loaded.files[0].syntax(),
            "editions",
            "loading leaves them to this stage"
        );
        let descriptors = lower(&loaded);
        assert!(
            descriptors.problems().is_empty(),
            "{:?}",
            descriptors.problems()
        );
        let [implicit, explicit] = descriptors.files.as_slice() else {
            panic!("two files")
        };
        let field = |file: &FileDescriptorProto, message: usize, name: &str| {
            file.message_type[message]
                .field
                .iter()
                .find(|f| f.name() == name)
                .unwrap()
                .clone()
        };
        assert_eq!(implicit.syntax(), "proto3");
        let values = &implicit.message_type[0];
        let present = field(implicit, 0, "present");
        assert!(present.proto3_optional());
        let oneof = &values.oneof_decl[present.oneof_index.unwrap() as usize];
        assert_eq!(oneof.name(), "_present");
        assert!(!field(implicit, 0, "plain").proto3_optional());
        assert_eq!(field(implicit, 0, "delimited").r#type(), Type::Group);
        assert!(field(implicit, 0, "delimited").proto3_optional());
        assert_eq!(field(implicit, 0, "delimited_choice").r#type(), Type::Group);
        assert!(!field(implicit, 0, "delimited_choice").proto3_optional());
        assert_eq!(field(implicit, 0, "inner").r#type(), Type::Message);
        let packed = |f: FieldDescriptorProto| f.options.and_then(|o| o.packed);
        assert_eq!(packed(field(implicit, 0, "packed")), Some(true));
        assert_eq!(packed(field(implicit, 0, "expanded")), Some(false));

        assert_eq!(explicit.syntax(), "proto2");
        let record = 1;
        assert_eq!(field(explicit, record, "id").label(), Label::Required);
        assert_eq!(
            field(explicit, record, "required_part").label(),
            Label::Required
        );
        assert_eq!(
            field(explicit, record, "required_part").r#type(),
            Type::Group
        );
        assert_eq!(
            field(explicit, record, "framed_part").r#type(),
            Type::Message
        );
        assert_eq!(field(explicit, record, "title").label(), Label::Optional);
        assert!(!field(explicit, record, "title").proto3_optional());
        assert_eq!(packed(field(explicit, record, "expanded")), Some(false));
        assert_eq!(packed(field(explicit, record, "kinds")), Some(true));
        // The map stays a list of length-prefixed entries, under a delimited file too, and
        // the entry's value a length-prefixed message.
        assert_eq!(
            field(explicit, record, "parts_by_id").r#type(),
            Type::Message
        );
        let entry = &explicit.message_type[record].nested_type[1];
        assert!(entry.options.as_ref().unwrap().map_entry());
        assert_eq!(entry.field[1].r#type(), Type::Message);
    }
}
