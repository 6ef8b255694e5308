"""gRPC's interop TestService on grpcio, from the cases' descriptions: the peer the Rust case
runner (tests/tests/interop_cases.rs) is checked against.

Prints `listening on 127.0.0.1:<port>` once serving.

Usage: python interop_server.py [--port 0]
"""

import argparse
import collections
import sys
import time
from concurrent import futures

import grpc
from google.protobuf import any_pb2

import interop_stubs

pb2, pb2_grpc = interop_stubs.load()

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
ECHO_DETAILS = "x-rust-stream-echo-details"
CODES = {code.value[0]: code for code in grpc.StatusCode}


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    """A status for `context.abort_with_status`."""


def echo_metadata(context):
    """Echo Metadata: the initial key back at once, the trailing one with the status."""
    metadata = dict(context.invocation_metadata())
    if ECHO_INITIAL in metadata:
        context.send_initial_metadata(((ECHO_INITIAL, metadata[ECHO_INITIAL]),))
    trailing = ()
    if ECHO_TRAILING in metadata:
        trailing = ((ECHO_TRAILING, metadata[ECHO_TRAILING]),)
        context.set_trailing_metadata(trailing)
    return metadata, trailing


def echo_status(context, metadata, trailing, status):
    """Echo Status, as a rich status when the request asks for one."""
    code = CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    if ECHO_DETAILS in metadata:
        detail = any_pb2.Any()
        detail.Pack(status)
        rich = pb2.RichStatus(code=status.code, message=status.message, details=[detail])
        context.abort_with_status(
            _Status(code, status.message, trailing + (("grpc-status-details-bin", rich.SerializeToString()),))
        )
    context.abort(code, status.message)


def payload(size):
    return pb2.Payload(body=b"\0" * size)


def respond(context, parameters):
    # The call's encoding is chosen before its first message; messages not to be compressed
    # are then sent uncompressed one by one.
    if any(parameter.compressed.value for parameter in parameters):
        context.set_compression(grpc.Compression.Gzip)
    for parameter in parameters:
        if parameter.interval_us:
            time.sleep(parameter.interval_us / 1e6)
        if parameter.HasField("compressed") and not parameter.compressed.value:
            context.disable_next_message_compression()
        yield pb2.StreamingOutputCallResponse(payload=payload(parameter.size))


class TestService(pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return pb2.Empty()

    def UnaryCall(self, request, context):
        metadata, trailing = echo_metadata(context)
        if request.HasField("response_status"):
            echo_status(context, metadata, trailing, request.response_status)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        else:
            context.set_compression(grpc.Compression.NoCompression)
        return pb2.SimpleResponse(payload=payload(request.response_size))

    def StreamingOutputCall(self, request, context):
        metadata, trailing = echo_metadata(context)
        if request.HasField("response_status"):
            echo_status(context, metadata, trailing, request.response_status)
        yield from respond(context, request.response_parameters)

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = sum(len(request.payload.body) for request in request_iterator)
        return pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        metadata, trailing = echo_metadata(context)
        for request in request_iterator:
            if request.HasField("response_status"):
                echo_status(context, metadata, trailing, request.response_status)
            yield from respond(context, request.response_parameters)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(0)
    sys.exit(0)


if __name__ == "__main__":
    main()
