//! The descriptor index, built once after loading: every message, enum, service and method by
//! its [`FullName`], each scope's declarations in order, and every file's source locations.
//!
//! A stage of the pipeline, after loading. Takes the [`Descriptors`](crate::Descriptors); gives an
//! [`Index`] that the checks, the model and the validation ask instead of walking the descriptors
//! or their source info themselves.

use crate::load::Descriptors;
use crate::proto::{FullName, SourceIndex};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};
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
        is_map_entry(self.message)
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

/// A message or an enum as its scope (a file or a message) declares it: where the order of
/// declarations decides something, such as which of two clashing names is reported.
#[derive(Debug)]
pub struct Declaration<'d> {
    /// Its full name.
    pub full_name: FullName,
    /// Its source path in its file (`[4, 0, 3, 1]`: the second message nested in the first).
    pub path: Vec<i32>,
    /// The message or the enum.
    pub declared: Declared<'d>,
}

/// What a [`Declaration`] declares.
#[derive(Debug)]
pub enum Declared<'d> {
    /// A message (a map entry included), with its own declarations in order.
    Message {
        /// The message.
        message: &'d DescriptorProto,
        /// The messages, then the enums, nested in it, each in declaration order.
        nested: Vec<Declaration<'d>>,
    },
    /// An enum.
    Enum(&'d EnumDescriptorProto),
}

impl Declared<'_> {
    /// The name as declared (`Inner` of `.pkg.Outer.Inner`).
    pub fn name(&self) -> &str {
        match self {
            Declared::Message { message, .. } => message.name(),
            Declared::Enum(enumeration) => enumeration.name(),
        }
    }

    /// Whether it is the entry type protoc makes for a `map` field.
    pub fn is_map_entry(&self) -> bool {
        match self {
            Declared::Message { message, .. } => is_map_entry(message),
            Declared::Enum(_) => false,
        }
    }
}

/// A service, with the file that declares it.
#[derive(Clone, Debug)]
pub struct ServiceEntry<'d> {
    /// Its full name (`.pkg.Service`).
    pub full_name: FullName,
    /// Its source path in its file (`[6, position]`).
    pub path: [i32; 2],
    /// The service.
    pub service: &'d ServiceDescriptorProto,
    /// The file that declares it.
    pub file: &'d FileDescriptorProto,
}

/// The descriptors of one run, indexed.
#[derive(Debug)]
pub struct Index<'d> {
    descriptors: &'d Descriptors,
    /// Each file's locations, in the order of `descriptors.files`.
    sources: Vec<SourceIndex<'d>>,
    /// Each file's top-level messages, then enums, in declaration order, in the order of
    /// `descriptors.files`.
    declarations: Vec<Vec<Declaration<'d>>>,
    /// Every service, in the order of the files, then of declaration.
    services: Vec<ServiceEntry<'d>>,
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
            declarations: Vec::new(),
            services: Vec::new(),
            messages: BTreeMap::new(),
            types: BTreeMap::new(),
            methods: BTreeMap::new(),
        };
        for file in &descriptors.files {
            let scope = FullName::package(file.package());
            let top = index.add_types(
                file,
                &scope,
                &[],
                (4, &file.message_type),
                (5, &file.enum_type),
            );
            index.declarations.push(top);
            index.add_services(file, &scope);
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

    /// The top-level messages, then enums, of `file` (one of the descriptors' files), each
    /// in declaration order.
    pub fn declarations(&self, file: &FileDescriptorProto) -> &[Declaration<'d>] {
        let position = self
            .sources
            .iter()
            .position(|source| std::ptr::eq(source.file(), file))
            .expect("the file is one of the indexed descriptors");
        &self.declarations[position]
    }

    /// Every service, in the order of the files, then of declaration.
    pub fn services(&self) -> &[ServiceEntry<'d>] {
        &self.services
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

    /// Indexes the messages and enums declared in `scope`, whose source path is `path`,
    /// nested ones first; returns them as declared.
    fn add_types(
        &mut self,
        file: &'d FileDescriptorProto,
        scope: &FullName,
        path: &[i32],
        (message_tag, messages): Children<'d, DescriptorProto>,
        (enum_tag, enums): Children<'d, EnumDescriptorProto>,
    ) -> Vec<Declaration<'d>> {
        let mut declared = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let name = scope.child(message.name());
            let path = [path, &[message_tag, i as i32]].concat();
            let nested = self.add_types(
                file,
                &name,
                &path,
                (3, &message.nested_type),
                (4, &message.enum_type),
            );
            let entry = MessageEntry { message, file };
            self.types.insert(name.clone(), TypeEntry::Message(entry));
            self.messages.insert(name.clone(), entry);
            declared.push(Declaration {
                full_name: name,
                path,
                declared: Declared::Message { message, nested },
            });
        }
        for (i, enumeration) in enums.iter().enumerate() {
            let name = scope.child(enumeration.name());
            let entry = EnumEntry { enumeration, file };
            self.types.insert(name.clone(), TypeEntry::Enum(entry));
            declared.push(Declaration {
                full_name: name,
                path: [path, &[enum_tag, i as i32]].concat(),
                declared: Declared::Enum(enumeration),
            });
        }
        declared
    }

    /// Indexes the services of `file` and their methods.
    fn add_services(&mut self, file: &'d FileDescriptorProto, scope: &FullName) {
        for (i, service) in file.service.iter().enumerate() {
            let service_name = scope.child(service.name());
            for (m, method) in service.method.iter().enumerate() {
                self.methods
                    .entry(service_name.child(method.name()))
                    .or_insert_with(|| vec![6, i as i32, 2, m as i32]);
            }
            self.services.push(ServiceEntry {
                full_name: service_name,
                path: [6, i as i32],
                service,
                file,
            });
        }
    }
}

/// Whether `message` is the entry type protoc makes for a `map` field.
fn is_map_entry(message: &DescriptorProto) -> bool {
    message.options.as_ref().is_some_and(|o| o.map_entry())
}

/// Descriptors of one kind in a scope, with their field number in the scope's descriptor
/// (for source paths).
type Children<'d, T> = (i32, &'d [T]);
