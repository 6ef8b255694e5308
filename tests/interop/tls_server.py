"""A grpcio server over TLS for the TLS interop tests: GetUser answers with the DNS names of
the client's certificate (its `x509_subject_alternative_name`s), or `anonymous`.

Usage: python tls_server.py CERT_PEM KEY_PEM [CLIENT_CA_PEM]

With CLIENT_CA_PEM it requires a client certificate from that CA (mTLS). Prints
`listening on 127.0.0.1:<port>` once serving.
"""

import sys
from concurrent import futures

import grpc

import stubs

pb, pb_grpc = stubs.load()


def read(path):
    with open(path, "rb") as f:
        return f.read()


class WhoAmI(pb_grpc.StreamingExamplesServicer):
    def GetUser(self, request, context):
        names = context.auth_context().get("x509_subject_alternative_name", [])
        name = ",".join(n.decode() for n in names) or "anonymous"
        return pb.UserResponse(name=name)


def main():
    cert, key = read(sys.argv[1]), read(sys.argv[2])
    client_ca = read(sys.argv[3]) if len(sys.argv) > 3 else None
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_StreamingExamplesServicer_to_server(WhoAmI(), server)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
