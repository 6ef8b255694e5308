//! Messages that contain each other through groups (editions' `message_encoding =
//! DELIMITED`, proto2's `group`) get boxed fields, as prost-build boxes cycles of message
//! fields: otherwise their types have infinite size (E0072). The tests crate compiles the
//! same protos through the derive (`tests/tests/delimited_cycles.rs`).

use rust_stream_build::Builder;

/// The code generated for `source` (one file, `rec.proto`), through the build API.
fn generate(source: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rec.proto"), source).unwrap();
    let files = Builder::new()
        .emit_rerun_if_changed(false)
        .generate(&[dir.path().join("rec.proto")], &[dir.path()])
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(files.len(), 1, "one package");
    files[0].content.clone()
}

/// The declaration of field `name` of struct `message`: its attribute line and type line.
fn field(code: &str, message: &str, name: &str) -> String {
    let start = code
        .find(&format!("pub struct {message} {{"))
        .unwrap_or_else(|| panic!("no struct {message} in\n{code}"));
    let body = &code[start..start + code[start..].find("\n}").unwrap()];
    let at = body
        .find(&format!("pub {name}: "))
        .unwrap_or_else(|| panic!("no field {name} in\n{body}"));
    let line_start = body[..at].rfind("#[prost(").unwrap();
    body[line_start..at + body[at..].find('\n').unwrap_or(body.len() - at)].to_owned()
}

fn assert_boxed(code: &str, message: &str, name: &str) {
    let field = field(code, message, name);
    assert!(
        field.contains("boxed") && field.contains("Box<"),
        "{message}.{name} is not boxed: {field}"
    );
}

fn assert_not_boxed(code: &str, message: &str, name: &str) {
    let field = field(code, message, name);
    assert!(
        !field.contains("Box<"),
        "{message}.{name} is boxed: {field}"
    );
}

const DELIMITED: &str =
    "edition = \"2023\";\npackage rec;\noption features.message_encoding = DELIMITED;\n";

#[test]
fn two_messages_containing_each_other_through_groups_are_boxed() {
    let code = generate(&format!(
        "{DELIMITED}message Ping {{ Pong pong = 1; }}\nmessage Pong {{ Ping ping = 1; }}\n"
    ));
    assert_boxed(&code, "Ping", "pong");
    assert_boxed(&code, "Pong", "ping");
}

#[test]
fn three_message_cycles_through_groups_are_boxed_and_nothing_else() {
    let code = generate(&format!(
        "{DELIMITED}message A {{ B b = 1; Leaf leaf = 2; repeated A many = 3; }}\n\
         message B {{ C c = 1; }}\nmessage C {{ A a = 1; oneof choice {{ B b = 2; Leaf leaf = 3; }} }}\n\
         message Leaf {{ int32 n = 1; }}\n"
    ));
    assert_boxed(&code, "A", "b");
    assert_boxed(&code, "B", "c");
    assert_boxed(&code, "C", "a");
    // In a oneof: the variant holds the box.
    assert!(
        code.contains("B(::prost::alloc::boxed::Box<super::B>)"),
        "{code}"
    );
    assert!(code.contains("Leaf(super::Leaf)"), "{code}");
    assert_not_boxed(&code, "A", "leaf");
    // A repeated field is a Vec already.
    assert_not_boxed(&code, "A", "many");
}

#[test]
fn cycles_mixing_groups_and_length_prefixed_fields_are_boxed() {
    let code = generate(&format!(
        "{DELIMITED}message Ping {{ Pong pong = 1; }}\n\
         message Pong {{ Ping ping = 1 [features.message_encoding = LENGTH_PREFIXED]; Pang pang = 2; }}\n\
         message Pang {{ Ping ping = 1 [features.message_encoding = LENGTH_PREFIXED]; }}\n"
    ));
    assert!(field(&code, "Ping", "pong").contains("group"), "{code}");
    assert!(field(&code, "Pong", "ping").contains("message"), "{code}");
    for (message, name) in [
        ("Ping", "pong"),
        ("Pong", "ping"),
        ("Pong", "pang"),
        ("Pang", "ping"),
    ] {
        assert_boxed(&code, message, name);
    }
}

/// proto2's groups make the same cycles without editions (read by protox).
#[test]
fn proto2_group_cycles_are_boxed() {
    let code = generate(
        "syntax = \"proto2\";\npackage rec;\n\
         message Ping { optional group G = 1 { optional Pong pong = 2; } }\n\
         message Pong { optional group H = 1 { optional Ping ping = 2; } }\n",
    );
    assert_boxed(&code, "Ping", "g");
    assert_boxed(&code, "Pong", "h");
}

/// Without groups, the output is prost-build's own: only its boxes.
#[test]
fn message_cycles_keep_prost_builds_boxes() {
    let code = generate(
        "syntax = \"proto3\";\npackage rec;\n\
         message Ping { Pong pong = 1; }\nmessage Pong { Ping ping = 1; Leaf leaf = 2; }\n\
         message Leaf { int32 n = 1; }\n",
    );
    assert_boxed(&code, "Ping", "pong");
    assert_boxed(&code, "Pong", "ping");
    assert_not_boxed(&code, "Pong", "leaf");
}
