"""Encodes a value of every message of the editions corpus with Python's protobuf (code from
grpcio-tools' protoc for the same files) and prints `case hex` lines for the Rust side
(`crate/wire.rs`), which decodes, compares and re-encodes each.

Usage: python wire.py GENERATED_DIR
"""

import sys

sys.path.insert(0, sys.argv[1])

import explicit_pb2 as ex  # noqa: E402
import implicit_pb2 as im  # noqa: E402
import v2024_pb2 as v24  # noqa: E402

Inner = im.Values.Inner
Part = ex.Record.Part


def values_full():
    m = im.Values(
        plain=-7,
        present=5,
        name="héllo",
        raw_name="raw",
        packed=[1, -2, 300],
        expanded=[1, 2],
        color=im.COLOR_GREEN,
        levels=[im.LEVEL_LOW, im.LEVEL_HIGH],
        inner=Inner(x=1),
        delimited=Inner(x=2),
        delimited_list=[Inner(x=3), Inner(x=4)],
        text="t",
    )
    m.by_name["k"].x = 5
    return m


def record_full():
    m = ex.Record(
        id=1,
        title="t",
        count=7,
        expanded=[1, 2],
        packed=[3, 4],
        kinds=[ex.KIND_A, ex.KIND_B],
        kind=ex.KIND_B,
        open=ex.OPEN_ONE,
        part=Part(label="p"),
        parts=[Part(label="a"), Part(label="b")],
        framed_part=Part(label="f"),
        required_part=Part(label="r"),
        flag=False,
        blob=b"\x01\x02",
        number=3,
    )
    m.parts_by_id[1].label = "m"
    return m


def record_node():
    child = ex.Node(value=1, child=ex.Node(value=2))
    node = ex.Node(child=child, framed=ex.Node(value=3), value=0)
    return ex.Record(id=2, required_part=Part(), node=node)


CASES = {
    "implicit.Values.defaults": im.Values(
        present=0, level=im.LEVEL_LOW, ratio=1.5, explicit_color=im.COLOR_UNSPECIFIED
    ),
    "implicit.Values.full": values_full(),
    "implicit.Values.delimited_choice": im.Values(delimited_choice=Inner(x=9)),
    "implicit.Values.Inner.zero": Inner(x=0),
    "implicit.Chunk": im.Chunk(data=b"\x00\x01\xff"),
    "implicit.Ack": im.Ack(received=1 << 40),
    "explicit.Record.required_only": ex.Record(id=0, required_part=Part()),
    "explicit.Record.full": record_full(),
    "explicit.Record.node": record_node(),
    "explicit.Chunk": ex.Chunk(data=b""),
    "v2024.Request": v24.Request(
        query="q", detail=v24.Request.Detail(level=0), ids=[1, 2], mode=v24.MODE_SAFE
    ),
    "v2024.Reply": v24.Reply(
        text="",
        named=v24.legacy_Named(Weird_Field=3, internal=v24.Internal(x=0)),
        code=0,
    ),
    "v2024.Chunk": v24.Chunk(data=b"abc"),
}

# Presence as Python sees it: what the Rust side must keep.
assert CASES["implicit.Values.defaults"].HasField("present")
assert CASES["implicit.Values.defaults"].HasField("ratio")
assert CASES["v2024.Reply"].HasField("text")

for name, message in CASES.items():
    print(name, message.SerializeToString().hex())
