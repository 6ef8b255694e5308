"""grpcio over TLS against a rust-stream server, for the TLS interop tests: one GetUser call
through `grpc.ssl_channel_credentials`, with or without a client certificate.

Usage: python tls_client.py ADDR CA_PEM [CERT_PEM KEY_PEM]

Prints `user <name>` (the name is what the server saw of the client's certificate), or
`status <CODE>` when the call failed; exits 0 either way.
"""

import sys

import grpc

import stubs

pb, pb_grpc = stubs.load()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    addr, ca = sys.argv[1], read(sys.argv[2])
    cert, key = (read(sys.argv[3]), read(sys.argv[4])) if len(sys.argv) > 4 else (None, None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    # The server's certificate names localhost; the test dials 127.0.0.1.
    options = (("grpc.ssl_target_name_override", "localhost"),)
    with grpc.secure_channel(addr, credentials, options=options) as channel:
        stub = pb_grpc.StreamingExamplesStub(channel)
        try:
            answer = stub.GetUser(pb.UserRequest(id="1"), timeout=20)
            print("user", answer.name, flush=True)
        except grpc.RpcError as error:
            print("status", error.code().name, flush=True)


if __name__ == "__main__":
    main()
