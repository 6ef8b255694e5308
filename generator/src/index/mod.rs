//! The descriptor index, built once after loading: every message, enum and method by its
//! [`FullName`], and every file's source locations.
//!
//! A stage of the pipeline, after loading. Takes the [`Descriptors`](crate::Descriptors); gives an
//! [`Index`] that the checks, the model and the validation ask instead of walking the descriptors
//! or their source info themselves.

use crate::load::Descriptors;
use crate::proto::{FullName, SourceIndex};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use std::collections::BTreeMap;
use std::ops::Bound;

/// A message and the file that declares it.
#[derive(Clone, Copy, Debug)]
pub struct MessageEntry<'d> {
    /// The message.
    pub message: &'d DescriptorProto,
    /// The file that declares it.
    pub file: &'d FileDescriptorProto,
}

impl MessageEntry<'_> {
    /// Whether the message is the entry type protoc makes for a `map` field.
    pub fn is_map_entry(&self) -> bool {
        self.message.options.as_ref().is_some_and(|o| o.map_entry())
    }
}

/// An enum and the file that declares it.
#[derive(Clone, Copy, Debug)]
pub struct EnumEntry<'d> {
    /// The enum.
    pub enumeration: &'d EnumDescriptorProto,
    /// The file that declares it.
    pub file: &'d FileDescriptorProto,
}

/// What a type name refers to: a message or an enum.
#[derive(Clone, Copy, Debug)]
pub enum TypeEntry<'d> {
    /// A message (a map entry included).
    Message(MessageEntry<'d>),
    /// An enum.
    Enum(EnumEntry<'d>),
}

impl<'d> TypeEntry<'d> {
    /// The file that declares the type.
    pub fn file(&self) -> &'d FileDescriptorProto {
        match self {
            TypeEntry::Message(entry) => entry.file,
            TypeEntry::Enum(entry) => entry.file,
        }
    }
}

/// The descriptors of one run, indexed.
#[derive(Debug)]
pub struct Index<'d> {
    descriptors: &'d Descriptors,
    /// Each file's locations, in the order of `descriptors.files`.
    sources: Vec<SourceIndex<'d>>,
    /// Every message, nested ones included; of two files declaring one name, the later.
    messages: BTreeMap<FullName, MessageEntry<'d>>,
    /// Every message and enum, as a type name resolves: of two declaring one name, the one
    /// indexed later (a later file; in one scope, the enum).
    types: BTreeMap<FullName, TypeEntry<'d>>,
    /// Every method's source path in its file (`[6, service, 2, method]`) by full name
    /// (`.pkg.Service.Method`); of two declaring one name, the first, as a relative name in
    /// a service resolves to its first method of that name.
    methods: BTreeMap<FullName, Vec<i32>>,
}

impl<'d> Index<'d> {
    /// Indexes `descriptors`.
    pub fn new(descriptors: &'d Descriptors) -> Self {
        let mut index = Index {
            descriptors,
            sources: descriptors.files.iter().map(SourceIndex::new).collect(),
            messages: BTreeMap::new(),
            types: BTreeMap::new(),
            methods: BTreeMap::new(),
        };
        for file in &descriptors.files {
            let scope = FullName::package(file.package());
            index.add_types(file, &scope, &file.message_type, &file.enum_type);
            index.add_methods(file, &scope);
        }
        index
    }

    /// The descriptors indexed.
    pub fn descriptors(&self) -> &'d Descriptors {
        self.descriptors
    }

    /// The source locations of `file`, one of the descriptors' files.
    pub fn source(&self, file: &FileDescriptorProto) -> &SourceIndex<'d> {
        self.sources
            .iter()
            .find(|source| std::ptr::eq(source.file(), file))
            .expect("the file is one of the indexed descriptors")
    }

    /// The message named `name` (`.pkg.Msg`).
    pub fn message(&self, name: &str) -> Option<&MessageEntry<'d>> {
        self.messages.get(name)
    }

    /// The message or enum a type name (`.pkg.Msg`) resolves to.
    pub fn type_named(&self, name: &str) -> Option<&TypeEntry<'d>> {
        self.types.get(name)
    }

    /// The enum a type name (`.pkg.Enum`) resolves to, if it is one.
    pub fn enumeration(&self, name: &str) -> Option<&EnumEntry<'d>> {
        match self.types.get(name)? {
            TypeEntry::Enum(entry) => Some(entry),
            TypeEntry::Message(_) => None,
        }
    }

    /// The source path of the method named `name` (`.pkg.Service.Method`) in its file.
    pub fn method_path(&self, name: &str) -> Option<&[i32]> {
        self.methods.get(name).map(Vec::as_slice)
    }

    /// The messages whose full names start with `scope` and a dot, in name order.
    pub fn messages_in<'s>(
        &'s self,
        scope: &'s FullName,
    ) -> impl Iterator<Item = (&'s FullName, &'s MessageEntry<'d>)> + 's {
        let start = format!("{scope}.");
        self.messages
            .range::<str, _>((Bound::Included(start.as_str()), Bound::Unbounded))
            .take_while(move |(name, _)| name.as_str().starts_with(&start))
    }

    /// Indexes the messages and enums declared in `scope`, nested ones first.
    fn add_types(
        &mut self,
        file: &'d FileDescriptorProto,
        scope: &FullName,
        messages: &'d [DescriptorProto],
        enums: &'d [EnumDescriptorProto],
    ) {
        for message in messages {
            let name = scope.child(message.name());
            self.add_types(file, &name, &message.nested_type, &message.enum_type);
            let entry = MessageEntry { message, file };
            self.types.insert(name.clone(), TypeEntry::Message(entry));
            self.messages.insert(name, entry);
        }
        for enumeration in enums {
            let entry = EnumEntry { enumeration, file };
            self.types
                .insert(scope.child(enumeration.name()), TypeEntry::Enum(entry));
        }
    }

    /// Indexes the methods of `file`'s services.
    fn add_methods(&mut self, file: &FileDescriptorProto, scope: &FullName) {
        for (i, service) in file.service.iter().enumerate() {
            let service_name = scope.child(service.name());
            for (m, method) in service.method.iter().enumerate() {
                self.methods
                    .entry(service_name.child(method.name()))
                    .or_insert_with(|| vec![6, i as i32, 2, m as i32]);
            }
        }
    }
}
