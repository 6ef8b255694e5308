"""A grpcio client for the corpus's editions services, served by rust-stream
(`crate/server.rs`): each streaming pattern of both services, with presence, groups,
packed and expanded lists crossing the wire. Prints `ok` or fails.

Usage: python client.py GENERATED_DIR ADDRESS
"""

import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402

import explicit_pb2 as ex  # noqa: E402
import explicit_pb2_grpc as ex_grpc  # noqa: E402
import implicit_pb2 as im  # noqa: E402
import implicit_pb2_grpc as im_grpc  # noqa: E402

TIMEOUT = 30

with grpc.insecure_channel(sys.argv[2]) as channel:
    implicit = im_grpc.ImplicitStub(channel)
    values = im.Values(
        plain=3,
        present=0,
        levels=[im.LEVEL_HIGH],
        expanded=[7],
        delimited=im.Values.Inner(x=0),
    )

    got = implicit.Get(values, timeout=TIMEOUT)
    assert got.plain == 4, got
    assert got.HasField("present") and got.present == 0, got
    assert got.HasField("delimited") and not got.HasField("inner"), got
    assert not got.HasField("ratio") and got.ratio == 1.5, got

    listed = list(implicit.List(values, timeout=TIMEOUT))
    assert [m.plain for m in listed] == [0, 1, 2], listed
    assert all(m.HasField("present") and list(m.levels) == [im.LEVEL_HIGH] for m in listed)

    chunks = (im.Chunk(data=b"x" * n) for n in (1, 1000, 65536))
    assert implicit.Upload(chunks, timeout=TIMEOUT).received == 66537

    sent = [im.Values(text="a"), im.Values(delimited_choice=im.Values.Inner(x=2)), values]
    echoed = list(implicit.Chat(iter(sent), timeout=TIMEOUT))
    assert echoed == sent, echoed

    explicit = ex_grpc.ExplicitStub(channel)
    record = ex.Record(
        id=2,
        required_part=ex.Record.Part(label="r"),
        parts=[ex.Record.Part(label="g")],
        flag=False,
        node=ex.Node(child=ex.Node(value=0)),
    )
    got = explicit.Get(record, timeout=TIMEOUT)
    assert got == record and got.HasField("flag"), got
    assert not got.HasField("count") and got.count == 7, got

    nodes = list(explicit.Watch(record, timeout=TIMEOUT))
    assert [n.child.value for n in nodes] == [0, 1], nodes
    assert all(n.child.HasField("value") for n in nodes), nodes

    chunks = (ex.Chunk(data=b"y" * n) for n in (0, 5, 100000))
    assert explicit.Upload(chunks, timeout=TIMEOUT).id == 100005

    records = [record, ex.Record(id=0, required_part=ex.Record.Part())]
    assert list(explicit.Sync(iter(records), timeout=TIMEOUT)) == records

print("ok")
