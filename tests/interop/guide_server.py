"""A StreamingExamples server written the way the guide writes one, for the interop tests.

Prints `listening on 127.0.0.1:<port>` once serving, then one line per event the tests read:

    list_events ended sent=<n> active=<True|False>   a ListEvents generator stopped
    upload stored bytes=<n> path=<file>              an upload was stored completely
    chat ended messages=<n>                          a Chat call read its last message

Usage: python guide_server.py [--port 0] [--store-dir DIR] [--max-receive-bytes N]
"""

import argparse
import os
import sys
import threading
from concurrent import futures

import grpc

import stubs

pb, pb_grpc = stubs.load()

# ListEvents with this `after` answers one event of BIG_EVENT_BYTES, over tonic's default
# limit and the Rust client's, to test that the client refuses it.
BIG_EVENT_AFTER = "big"
BIG_EVENT_BYTES = 17 * 1024 * 1024


def say(*words):
    print(*words, flush=True)


class StreamingExamples(pb_grpc.StreamingExamplesServicer):
    def __init__(self, store_dir):
        self.store_dir = store_dir
        self.uploads = 0
        self.lock = threading.Lock()

    def GetUser(self, request, context):
        if request.id != "42":
            context.abort(grpc.StatusCode.NOT_FOUND, "User not found")
        return pb.UserResponse(name="Ada Lovelace", email="ada@example.com")

    def ListEvents(self, request, context):
        if request.after == BIG_EVENT_AFTER:
            yield pb.Event(id="big", type="big", data=b"\0" * BIG_EVENT_BYTES)
            return
        sent = 0
        try:
            while True:
                # The guide: "if context.is_active(): yield Event(...) else: return".
                if context.is_active():
                    sent += 1
                    yield pb.Event(id=str(sent), type="tick", data=bytes([sent % 251]) * 64)
                else:
                    return
        finally:
            # Runs when the generator returns, and when grpcio closes it because the client
            # cancelled while it was blocked sending.
            say(f"list_events ended sent={sent} active={context.is_active()}")

    def UploadChunks(self, request_iterator, context):
        with self.lock:
            self.uploads += 1
            n = self.uploads
        path = os.path.join(self.store_dir, f"upload-{n}.bin")
        total = 0
        with open(path + ".partial", "wb") as storage:
            for chunk in request_iterator:
                storage.write(chunk.data)
                total += len(chunk.data)
        os.replace(path + ".partial", path)
        say(f"upload stored bytes={total} path={path}")
        return pb.UploadResult(bytes_received=total)

    def Chat(self, request_iterator, context):
        messages = 0
        for message in request_iterator:
            messages += 1
            yield pb.Message(text=f"Delivered: {message.text}", user="server")
        say(f"chat ended messages={messages}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--store-dir", default=".", help="where uploads are stored")
    parser.add_argument(
        "--max-receive-bytes", type=int, help="grpc.max_receive_message_length of the server"
    )
    args = parser.parse_args()

    os.makedirs(args.store_dir, exist_ok=True)
    options = []
    if args.max_receive_bytes is not None:
        options.append(("grpc.max_receive_message_length", args.max_receive_bytes))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
    pb_grpc.add_StreamingExamplesServicer_to_server(StreamingExamples(args.store_dir), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    say(f"listening on 127.0.0.1:{port}")
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
