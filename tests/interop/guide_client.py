"""The guide's Python client code, one scenario per subcommand, for the interop tests.

Prints one line per observation, `<key> <value...>`, flushed at once so a test can react
while the client still runs:

    status OK | status <CODE> <details>     how the call ended
    user <name> <email>                     GetUser's answer
    event <id> <type> <payload bytes>       one ListEvents event
    cancelled <events received>             the client just cancelled ListEvents
    bytes_received <n>                      UploadChunks' answer
    reply <user> <text>                     one Chat reply

Usage: python guide_client.py --addr 127.0.0.1:PORT SCENARIO [options]
"""

import argparse
import sys

import grpc

import stubs

pb, pb_grpc = stubs.load()


def say(*words):
    print(*words, flush=True)


# The guide: "with open(filepath, 'rb') as f: while chunk := f.read(65536): yield Chunk(data=chunk)".
def generate_chunks(filepath: str, chunk_size: int = 65536):
    with open(filepath, "rb") as f:
        while chunk := f.read(chunk_size):
            yield pb.Chunk(data=chunk)


def get_user(stub, args):
    user_id = args.id + "x" * args.pad
    response = stub.GetUser(pb.UserRequest(id=user_id), timeout=args.timeout)
    say("user", response.name, response.email)


def list_events(stub, args):
    call = stub.ListEvents(pb.EventFilter(after=args.after), timeout=args.timeout)
    received = 0
    for event in call:
        say("event", event.id, event.type, len(event.data))
        received += 1
        if received == args.cancel_after:
            call.cancel()
            say("cancelled", received)
            # The channel stays usable after a cancel: a unary call on the same connection
            # proves the cancel reset one stream, not the connection.
            stub.GetUser(pb.UserRequest(id="42"), timeout=30)
            return


def upload(stub, args):
    result = stub.UploadChunks(generate_chunks(args.file, args.chunk_size), timeout=args.timeout)
    say("bytes_received", result.bytes_received)


def chat(stub, args):
    # The guide: a request generator, and a for loop over the replies.
    def send_messages():
        for text in args.texts:
            yield pb.Message(text=text, user="alice")

    for response in stub.Chat(send_messages(), timeout=args.timeout):
        say("reply", response.user, response.text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="server address, host:port")
    parser.add_argument("--timeout", type=float, default=60.0, help="the call's deadline, seconds")
    parser.add_argument(
        "--max-receive-bytes", type=int, help="grpc.max_receive_message_length of the channel"
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    p = sub.add_parser("get-user")
    p.add_argument("id")
    p.add_argument("--pad", type=int, default=0, help="append this many bytes to the id")
    p.set_defaults(run=get_user)
    p = sub.add_parser("list-events")
    p.add_argument("--after", default="2024-01-01")
    p.add_argument("--cancel-after", type=int, default=0, help="cancel after N events")
    p.set_defaults(run=list_events)
    p = sub.add_parser("upload")
    p.add_argument("file")
    p.add_argument("--chunk-size", type=int, default=65536)
    p.set_defaults(run=upload)
    p = sub.add_parser("chat")
    p.add_argument("texts", nargs="*")
    p.set_defaults(run=chat)
    args = parser.parse_args()

    # The guide's channel, with its 1 MiB initial window.
    options = [("grpc.http2.initial_window_size", 1024 * 1024)]
    if args.max_receive_bytes is not None:
        options.append(("grpc.max_receive_message_length", args.max_receive_bytes))
    with grpc.insecure_channel(args.addr, options=options) as channel:
        stub = pb_grpc.StreamingExamplesStub(channel)
        try:
            args.run(stub, args)
        except grpc.RpcError as err:
            say("status", err.code().name, err.details())
            return
        say("status", "OK")


if __name__ == "__main__":
    sys.exit(main())
