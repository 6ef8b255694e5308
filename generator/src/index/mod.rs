//! The descriptor index, built once after loading: every message by its [`FullName`], and
//! every file's source locations.
//!
//! A stage of the pipeline, after loading. Takes the [`Descriptors`](crate::Descriptors); gives an
//! [`Index`] that the checks, the model and the validation ask instead of walking the descriptors
//! or their source info themselves.

use crate::load::Descriptors;
use crate::proto::{FullName, SourceIndex};
use prost_types::{DescriptorProto, FileDescriptorProto};
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

/// The descriptors of one run, indexed.
#[derive(Debug)]
pub struct Index<'d> {
    descriptors: &'d Descriptors,
    /// Each file's locations, in the order of `descriptors.files`.
    sources: Vec<SourceIndex<'d>>,
    /// Every message, nested ones included; of two files declaring one name, the later.
    messages: BTreeMap<FullName, MessageEntry<'d>>,
}

impl<'d> Index<'d> {
    /// Indexes `descriptors`.
    pub fn new(descriptors: &'d Descriptors) -> Self {
        let mut messages = BTreeMap::new();
        for file in &descriptors.files {
            let scope = FullName::package(file.package());
            index_messages(file, &scope, &file.message_type, &mut messages);
        }
        Index {
            descriptors,
            sources: descriptors.files.iter().map(SourceIndex::new).collect(),
            messages,
        }
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
}

fn index_messages<'d>(
    file: &'d FileDescriptorProto,
    scope: &FullName,
    messages: &'d [DescriptorProto],
    index: &mut BTreeMap<FullName, MessageEntry<'d>>,
) {
    for message in messages {
        let name = scope.child(message.name());
        index_messages(file, &name, &message.nested_type, index);
        index.insert(name, MessageEntry { message, file });
    }
}
