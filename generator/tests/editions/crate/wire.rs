//! Reads `case hex` lines (messages Python's protobuf encoded from the same editions files)
//! on stdin; each must decode to the value below and encode back to the same bytes. Prints
//! `ok N` or every mismatch (exit code 1).

use editions_corpus::pb::ed::{explicit, implicit, v2024};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::io::BufRead;

type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

fn case<M: Message + Default + PartialEq + Debug + 'static>(expected: M) -> Check {
    Box::new(move |bytes| {
        let decoded = M::decode(bytes).map_err(|err| format!("does not decode: {err}"))?;
        if decoded != expected {
            return Err(format!("decoded {decoded:?}, expected {expected:?}"));
        }
        let again = decoded.encode_to_vec();
        if again != bytes {
            return Err(format!(
                "re-encoded as {}, Python wrote {}",
                hex(&again),
                hex(bytes)
            ));
        }
        Ok(())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn cases() -> BTreeMap<&'static str, Check> {
    use implicit::values::{Choice, Inner};
    let inner = |x| Inner { x };
    let part = |label: &str| explicit::record::Part {
        label: Some(label.to_owned()),
    };
    let required = explicit::Record {
        id: 0,
        required_part: explicit::record::Part::default(),
        ..Default::default()
    };
    BTreeMap::from([
        (
            // Fields with presence set to their defaults stay present.
            "implicit.Values.defaults",
            case(implicit::Values {
                present: Some(0),
                level: Some(implicit::Level::Low as i32),
                ratio: Some(1.5),
                explicit_color: Some(implicit::Color::Unspecified as i32),
                ..Default::default()
            }),
        ),
        (
            "implicit.Values.full",
            case(implicit::Values {
                plain: -7,
                present: Some(5),
                name: "héllo".to_owned(),
                raw_name: "raw".to_owned(),
                packed: vec![1, -2, 300],
                expanded: vec![1, 2],
                color: implicit::Color::Green as i32,
                levels: vec![implicit::Level::Low as i32, implicit::Level::High as i32],
                inner: Some(inner(1)),
                delimited: Some(inner(2)),
                delimited_list: vec![inner(3), inner(4)],
                by_name: HashMap::from([("k".to_owned(), inner(5))]),
                choice: Some(Choice::Text("t".to_owned())),
                ..Default::default()
            }),
        ),
        (
            "implicit.Values.delimited_choice",
            case(implicit::Values {
                choice: Some(Choice::DelimitedChoice(inner(9))),
                ..Default::default()
            }),
        ),
        // Without presence, a zero is not written at all.
        ("implicit.Values.Inner.zero", case(inner(0))),
        (
            "implicit.Chunk",
            case(implicit::Chunk {
                data: vec![0, 1, 0xff],
            }),
        ),
        ("implicit.Ack", case(implicit::Ack { received: 1 << 40 })),
        ("explicit.Record.required_only", case(required.clone())),
        (
            "explicit.Record.full",
            case(explicit::Record {
                id: 1,
                title: Some("t".to_owned()),
                count: Some(7),
                expanded: vec![1, 2],
                packed: vec![3, 4],
                kinds: vec![explicit::Kind::A as i32, explicit::Kind::B as i32],
                kind: Some(explicit::Kind::B as i32),
                open: Some(explicit::Open::One as i32),
                part: Some(part("p")),
                parts: vec![part("a"), part("b")],
                framed_part: Some(part("f")),
                required_part: part("r"),
                parts_by_id: HashMap::from([(1, part("m"))]),
                flag: Some(false),
                blob: Some(vec![1, 2]),
                pick: Some(explicit::record::Pick::Number(3)),
            }),
        ),
        (
            "explicit.Record.node",
            case(explicit::Record {
                id: 2,
                pick: Some(explicit::record::Pick::Node(explicit::Node {
                    child: Some(Box::new(explicit::Node {
                        value: Some(1),
                        child: Some(Box::new(explicit::Node {
                            value: Some(2),
                            ..Default::default()
                        })),
                        framed: None,
                    })),
                    framed: Some(Box::new(explicit::Node {
                        value: Some(3),
                        ..Default::default()
                    })),
                    value: Some(0),
                })),
                ..required
            }),
        ),
        // Required, so present even when empty.
        ("explicit.Chunk", case(explicit::Chunk { data: Vec::new() })),
        (
            "v2024.Request",
            case(v2024::Request {
                query: Some("q".to_owned()),
                detail: Some(v2024::request::Detail { level: 0 }),
                ids: vec![1, 2],
                mode: Some(v2024::Mode::Safe as i32),
            }),
        ),
        (
            "v2024.Reply",
            case(v2024::Reply {
                text: Some(String::new()),
                named: Some(v2024::LegacyNamed {
                    weird_field: Some(3),
                    internal: Some(v2024::Internal { x: Some(0) }),
                }),
                outcome: Some(v2024::reply::Outcome::Code(0)),
            }),
        ),
        (
            "v2024.Chunk",
            case(v2024::Chunk {
                data: b"abc".to_vec(),
            }),
        ),
    ])
}

fn main() -> std::process::ExitCode {
    let mut cases = cases();
    let total = cases.len();
    let mut failures = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin is readable");
        let Some((name, hex)) = line.split_once(' ') else {
            failures.push(format!("malformed line {line:?}"));
            continue;
        };
        let Some(bytes) = unhex(hex) else {
            failures.push(format!("{name}: not hex: {hex:?}"));
            continue;
        };
        match cases.remove(name) {
            Some(check) => {
                if let Err(err) = check(&bytes) {
                    failures.push(format!("{name}: {err}"));
                }
            }
            None => failures.push(format!("{name}: no such case (or given twice)")),
        }
    }
    failures.extend(cases.keys().map(|name| format!("{name}: not given")));
    if failures.is_empty() {
        println!("ok {total}");
        std::process::ExitCode::SUCCESS
    } else {
        for failure in failures {
            println!("{failure}");
        }
        std::process::ExitCode::FAILURE
    }
}
