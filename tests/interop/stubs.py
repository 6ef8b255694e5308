"""Generates the Python stubs for proto/streaming.proto with grpc_tools.protoc and imports them.

The stubs go to a temporary directory that is removed when the process exits, so every run
uses stubs generated from the proto as it is now.
"""

import atexit
import importlib
import os
import shutil
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

DEFAULT_PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def load(proto_dir=DEFAULT_PROTO_DIR):
    """Returns the (streaming_pb2, streaming_pb2_grpc) modules for `proto_dir`/streaming.proto."""
    out = tempfile.mkdtemp(prefix="rust-stream-stubs-")
    atexit.register(shutil.rmtree, out, True)
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(proto_dir, "streaming.proto"),
        ]
    )
    if status != 0:
        raise SystemExit(f"grpc_tools.protoc failed with status {status}")
    sys.path.insert(0, out)
    return importlib.import_module("streaming_pb2"), importlib.import_module("streaming_pb2_grpc")
