"""Checks a server's health over TLS with grpcio's own health client, for the template's
production test: `python health_tls.py ADDR CA_PEM [CERT_PEM KEY_PEM]` asks for the health of
the server as a whole through `grpc.ssl_channel_credentials`, with a client certificate when
one is given, and prints the status (`SERVING`), or `status <CODE>` when the call failed.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


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
        health = health_pb2_grpc.HealthStub(channel)
        try:
            answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=20)
            print(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status), flush=True)
        except grpc.RpcError as error:
            print("status", error.code().name, flush=True)


if __name__ == "__main__":
    main()
