"""grpcio over TLS against a rust-stream server, for the TLS interop tests: one GetUser call
through `grpc.ssl_channel_credentials`, with or without a client certificate.

Usage: python tls_client.py ADDR CA_PEM [CERT_PEM KEY_PEM]

Prints `user <name>` (the name is what the server saw of the client's certificate), or
`status <CODE>` when the call failed; exits 0 either way.
"""

import sys

import grpc

import stubs
import tls_channel

pb, pb_grpc = stubs.load()


def main():
    with tls_channel.from_args(sys.argv[1:]) as channel:
        stub = pb_grpc.StreamingExamplesStub(channel)
        try:
            answer = stub.GetUser(pb.UserRequest(id="1"), timeout=20)
            print("user", answer.name, flush=True)
        except grpc.RpcError as error:
            print("status", error.code().name, flush=True)


if __name__ == "__main__":
    main()
