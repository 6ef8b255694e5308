//! Messages containing each other through DELIMITED fields (groups), read through the
//! derive (editions, with the bundled protoc): the test compiles only if their fields are
//! boxed, and values nest and round-trip through the group encoding.

use prost::Message;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "proto/cycles/delimited.proto", serve = false)]
#[allow(dead_code)] // Only its module is used.
struct Cycles;

use cycles_proto::rec::{A, B, C, Ping, Pong, Tack, Tick, Tock, c::Choice};

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(value: &M) {
    let bytes = value.encode_to_vec();
    assert_eq!(&M::decode(bytes.as_slice()).unwrap(), value);
}

#[test]
fn two_message_cycle_nests_and_round_trips() {
    let inner = Ping {
        pong: None,
        n: Some(7),
    };
    let ping = Ping {
        pong: Some(Box::new(Pong {
            ping: Some(Box::new(inner)),
        })),
        n: Some(1),
    };
    let bytes = ping.encode_to_vec();
    // Field 1 is a group: a start-group tag (1 << 3 | 3), not a length-prefixed one.
    assert_eq!(bytes[0], 0x0b, "{bytes:?}");
    round_trip(&ping);
}

#[test]
fn three_message_cycle_with_a_oneof_round_trips() {
    let a = A {
        b: Some(Box::new(B {
            c: Some(Box::new(C {
                a: Some(Box::default()),
                choice: Some(Choice::B(Box::default())),
            })),
        })),
        many: vec![A::default()],
    };
    round_trip(&a);
}

#[test]
fn mixed_group_and_length_prefixed_cycle_round_trips() {
    let tick = Tick {
        tock: Some(Box::new(Tock {
            tick: Some(Box::default()),
            tack: Some(Box::new(Tack {
                tick: Some(Box::default()),
            })),
        })),
    };
    round_trip(&tick);
}
