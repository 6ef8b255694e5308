//! A descriptor set for the unit tests, built in code: two packages whose services share a
//! name and a method name, and a method of each pattern.
//!
//! ```text
//! package a;  service Store { rpc Get(Req) returns (Res);  rpc Put(stream Blob) returns (Res);
//!                             rpc Watch(Req) returns (stream Res); }
//! package b;  service Store { rpc Get(a.Req) returns (a.Res); }
//!             service Talk  { rpc Chat(stream a.Blob) returns (stream a.Res);
//!                             rpc Send(stream a.Res) returns (a.Res); }
//! message a.Req  { string id = 1; }
//! message a.Res  { uint64 bytes_received = 1; string note = 2; }
//! message a.Blob { bytes data = 1; }
//! ```

use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};

/// The encoded set.
pub(super) fn descriptor_set() -> Vec<u8> {
    FileDescriptorSet {
        file: vec![package_a(), package_b()],
    }
    .encode_to_vec()
}

fn package_a() -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some("a.proto".into()),
        package: Some("a".into()),
        syntax: Some("proto3".into()),
        message_type: vec![
            message("Req", vec![field("id", 1, Type::String)]),
            message(
                "Res",
                vec![
                    field("bytes_received", 1, Type::Uint64),
                    field("note", 2, Type::String),
                ],
            ),
            message("Blob", vec![field("data", 1, Type::Bytes)]),
        ],
        service: vec![service(
            "Store",
            vec![
                method("Get", "Req", "Res", (false, false)),
                method("Put", "Blob", "Res", (true, false)),
                method("Watch", "Req", "Res", (false, true)),
            ],
        )],
        ..Default::default()
    }
}

fn package_b() -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some("b.proto".into()),
        package: Some("b".into()),
        dependency: vec!["a.proto".into()],
        syntax: Some("proto3".into()),
        service: vec![
            service("Store", vec![method("Get", "Req", "Res", (false, false))]),
            service(
                "Talk",
                vec![
                    method("Chat", "Blob", "Res", (true, true)),
                    method("Send", "Res", "Res", (true, false)),
                ],
            ),
        ],
        ..Default::default()
    }
}

fn message(name: &str, field: Vec<FieldDescriptorProto>) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.into()),
        field,
        ..Default::default()
    }
}

fn field(name: &str, number: i32, kind: Type) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(prost_types::field_descriptor_proto::Label::Optional.into()),
        r#type: Some(kind.into()),
        ..Default::default()
    }
}

fn service(name: &str, method: Vec<MethodDescriptorProto>) -> ServiceDescriptorProto {
    ServiceDescriptorProto {
        name: Some(name.into()),
        method,
        ..Default::default()
    }
}

/// A method of package `a`'s messages; `streaming` is (client, server).
fn method(name: &str, input: &str, output: &str, streaming: (bool, bool)) -> MethodDescriptorProto {
    MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(format!(".a.{input}")),
        output_type: Some(format!(".a.{output}")),
        client_streaming: Some(streaming.0),
        server_streaming: Some(streaming.1),
        ..Default::default()
    }
}
