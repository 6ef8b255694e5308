"""gRPC's standard interop cases on a grpcio client, from the cases' descriptions: the runner the
Rust TestService (tests/tests/interop_cases.rs) is checked against.

Prints `<case>: ok` or `<case>: FAILED <why>` for each case, and exits 1 if any failed.

Usage: python interop_client.py --server_host 127.0.0.1 --server_port PORT
           [--test_case NAME] [--server_checks_compression]
"""

import argparse
import queue
import sys

import grpc

import interop_stubs

pb2, pb2_grpc = interop_stubs.load()

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
ECHO_DETAILS = "x-rust-stream-echo-details"
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


class CaseFailed(Exception):
    pass


def ensure(condition, what):
    if not condition:
        raise CaseFailed(what)


def expect_error(call, code, what):
    """Runs `call`, which must fail with `code`; returns the error."""
    try:
        call()
    except grpc.RpcError as error:
        ensure(error.code() == code, f"{what}: {error.code()} {error.details()!r}")
        return error
    raise CaseFailed(f"{what} succeeded")


def payload(size):
    return pb2.Payload(body=b"\0" * size)


def bool_value(value):
    return None if value is None else pb2.BoolValue(value=value)


def large_request(expect_compressed=None, response_compressed=None):
    return pb2.SimpleRequest(
        response_size=314159,
        payload=payload(271828),
        expect_compressed=bool_value(expect_compressed),
        response_compressed=bool_value(response_compressed),
    )


def check_large(response):
    body = response.payload.body
    ensure(len(body) == 314159 and body == b"\0" * 314159, f"response payload of {len(body)} bytes")


def sizes(responses):
    return [len(response.payload.body) for response in responses]


def output_request(sizes, compressed=None):
    return pb2.StreamingOutputCallRequest(
        response_parameters=[
            pb2.ResponseParameters(size=size, compressed=bool_value(compressed)) for size in sizes
        ]
    )


def duplex_request(size, body):
    request = output_request([size])
    request.payload.CopyFrom(payload(body))
    return request


class Requests:
    """A request iterator the case feeds one message at a time; `close` half-closes."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def send(self, request):
        self._queue.put(request)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            raise StopIteration
        return item


def empty_unary(stub, args):
    ensure(stub.EmptyCall(pb2.Empty()) == pb2.Empty(), "the response is not empty")


def large_unary(stub, args):
    check_large(stub.UnaryCall(large_request()))


def probe(call, args):
    """The feature probe: an uncompressed request expected compressed."""
    try:
        call()
    except grpc.RpcError as error:
        ensure(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"probe: {error.code()}")
        return
    ensure(not args.server_checks_compression, "probe: the uncompressed request was accepted")


def client_compressed_unary(stub, args):
    probe(lambda: stub.UnaryCall(large_request(expect_compressed=True)), args)
    check_large(stub.UnaryCall(large_request(expect_compressed=True), compression=grpc.Compression.Gzip))
    check_large(stub.UnaryCall(large_request(expect_compressed=False)))


def server_compressed_unary(stub, args):
    # grpcio shows neither the message flag nor `grpc-encoding`: sizes are what it can check.
    for compressed in (True, False):
        check_large(stub.UnaryCall(large_request(response_compressed=compressed)))


def client_streaming(stub, args):
    requests = [pb2.StreamingInputCallRequest(payload=payload(n)) for n in (27182, 8, 1828, 45904)]
    response = stub.StreamingInputCall(iter(requests))
    ensure(response.aggregated_payload_size == 74922, f"aggregated {response.aggregated_payload_size}")


def client_compressed_streaming(stub, args):
    first = pb2.StreamingInputCallRequest(payload=payload(27182), expect_compressed=bool_value(True))
    probe(lambda: stub.StreamingInputCall(iter([first])), args)
    second = pb2.StreamingInputCallRequest(payload=payload(45904), expect_compressed=bool_value(False))
    response = stub.StreamingInputCall(iter([first, second]), compression=grpc.Compression.Gzip)
    ensure(response.aggregated_payload_size == 73086, f"aggregated {response.aggregated_payload_size}")


def server_streaming(stub, args):
    got = sizes(stub.StreamingOutputCall(output_request([31415, 9, 2653, 58979])))
    ensure(got == [31415, 9, 2653, 58979], f"sizes {got}")


def server_compressed_streaming(stub, args):
    request = output_request([31415], compressed=True)
    request.response_parameters.extend(output_request([92653], compressed=False).response_parameters)
    got = sizes(stub.StreamingOutputCall(request))
    ensure(got == [31415, 92653], f"sizes {got}")


def ping_pong(stub, args):
    requests = Requests()
    responses = stub.FullDuplexCall(requests)
    for size, body in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
        requests.send(duplex_request(size, body))
        got = len(next(responses).payload.body)
        ensure(got == size, f"size {got}, want {size}")
    requests.close()
    ensure(list(responses) == [], "more than four responses")


def empty_stream(stub, args):
    ensure(list(stub.FullDuplexCall(iter([]))) == [], "responses to an empty stream")


def check_echoed(what, call):
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    ensure(initial.get(ECHO_INITIAL) == "test_initial_metadata_value", f"{what}: initial {initial}")
    ensure(trailing.get(ECHO_TRAILING) == b"\xab\xab\xab", f"{what}: trailing {trailing}")


def custom_metadata(stub, args):
    metadata = ((ECHO_INITIAL, "test_initial_metadata_value"), (ECHO_TRAILING, b"\xab\xab\xab"))
    response, call = stub.UnaryCall.with_call(large_request(), metadata=metadata)
    check_large(response)
    check_echoed("UnaryCall", call)
    call = stub.FullDuplexCall(iter([duplex_request(314159, 271828)]), metadata=metadata)
    got = sizes(call)
    ensure(got == [314159], f"sizes {got}")
    check_echoed("FullDuplexCall", call)


def echo_status(message):
    return pb2.EchoStatus(code=2, message=message)


def check_status(stub, message):
    for what, call in (
        ("UnaryCall", lambda: stub.UnaryCall(pb2.SimpleRequest(response_status=echo_status(message)))),
        (
            "FullDuplexCall",
            lambda: list(
                stub.FullDuplexCall(iter([pb2.StreamingOutputCallRequest(response_status=echo_status(message))]))
            ),
        ),
    ):
        error = expect_error(call, grpc.StatusCode.UNKNOWN, what)
        ensure(error.details() == message, f"{what}: message {error.details()!r}")


def status_code_and_message(stub, args):
    check_status(stub, "test status message")


def special_status_message(stub, args):
    check_status(stub, SPECIAL_MESSAGE)


def unimplemented_method(stub, args):
    expect_error(lambda: stub.UnimplementedCall(pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall")


def unimplemented_service(stub, args):
    other = pb2_grpc.UnimplementedServiceStub(args.channel)
    expect_error(lambda: other.UnimplementedCall(pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED, "UnimplementedService")


def cancel_after_begin(stub, args):
    requests = Requests()
    future = stub.StreamingInputCall.future(requests)
    future.cancel()
    requests.close()
    ensure(future.cancelled(), "the call was not cancelled")
    ensure(future.code() == grpc.StatusCode.CANCELLED, f"status {future.code()}")


def cancel_after_first_response(stub, args):
    requests = Requests()
    responses = stub.FullDuplexCall(requests)
    requests.send(duplex_request(31415, 27182))
    got = len(next(responses).payload.body)
    ensure(got == 31415, f"size {got}")
    responses.cancel()
    requests.close()
    expect_error(lambda: next(responses), grpc.StatusCode.CANCELLED, "reading after the cancel")


def timeout_on_sleeping_server(stub, args):
    requests = Requests()
    responses = stub.FullDuplexCall(requests, timeout=0.001)
    requests.send(pb2.StreamingOutputCallRequest(payload=payload(27182)))
    expect_error(lambda: list(responses), grpc.StatusCode.DEADLINE_EXCEEDED, "FullDuplexCall")
    requests.close()


def status_details(stub, args):
    echo = pb2.EchoStatus(code=9, message="d\u00e9tails \u263a")
    error = expect_error(
        lambda: stub.UnaryCall(pb2.SimpleRequest(response_status=echo), metadata=((ECHO_DETAILS, "1"),)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "UnaryCall",
    )
    ensure(error.details() == echo.message, f"message {error.details()!r}")
    raw = dict(error.trailing_metadata()).get("grpc-status-details-bin")
    ensure(raw is not None, f"no grpc-status-details-bin in {error.trailing_metadata()}")
    rich = pb2.RichStatus.FromString(raw)
    ensure(rich.code == 9 and rich.message == echo.message, f"details {rich}")
    detail = pb2.EchoStatus()
    ensure(len(rich.details) == 1 and rich.details[0].Unpack(detail) and detail == echo, f"details {rich}")


CASES = [
    empty_unary,
    large_unary,
    client_compressed_unary,
    server_compressed_unary,
    client_streaming,
    client_compressed_streaming,
    server_streaming,
    server_compressed_streaming,
    ping_pong,
    empty_stream,
    custom_metadata,
    status_code_and_message,
    special_status_message,
    unimplemented_method,
    unimplemented_service,
    cancel_after_begin,
    cancel_after_first_response,
    timeout_on_sleeping_server,
    status_details,
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server_host", default="127.0.0.1")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument("--test_case", default="all")
    parser.add_argument("--server_checks_compression", action="store_true")
    args = parser.parse_args()
    failed = False
    for case in CASES:
        if args.test_case not in ("all", case.__name__):
            continue
        # A channel per case, as gRPC's runners do: one case's cancel cannot touch the next.
        with grpc.insecure_channel(f"{args.server_host}:{args.server_port}") as channel:
            args.channel = channel
            try:
                case(pb2_grpc.TestServiceStub(channel), args)
                print(f"{case.__name__}: ok", flush=True)
            except (CaseFailed, grpc.RpcError) as error:
                failed = True
                print(f"{case.__name__}: FAILED {error!r}".replace("\n", " "), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
