"""Generates the Python stubs of gRPC's interop TestService (tests/proto/grpc/testing/test.proto)
with grpc_tools.protoc and imports them.

The proto is copied under another file name first: its natural module, `grpc.testing.test_pb2`,
would be looked up inside grpcio's own `grpc` package. The proto package, and so every method's
path on the wire, stays `grpc.testing`.
"""

import atexit
import importlib
import os
import shutil
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

PROTO = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "proto", "grpc", "testing", "test.proto"
)


def load():
    """Returns the (interop_test_pb2, interop_test_pb2_grpc) modules."""
    out = tempfile.mkdtemp(prefix="rust-stream-interop-stubs-")
    atexit.register(shutil.rmtree, out, True)
    shutil.copy(PROTO, os.path.join(out, "interop_test.proto"))
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{out}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(out, "interop_test.proto"),
        ]
    )
    if status != 0:
        raise SystemExit(f"grpc_tools.protoc failed with status {status}")
    sys.path.insert(0, out)
    return (
        importlib.import_module("interop_test_pb2"),
        importlib.import_module("interop_test_pb2_grpc"),
    )
