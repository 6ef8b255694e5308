"""Checks a server's health over TLS with grpcio's own health client, for the template's
production test: `python health_tls.py ADDR CA_PEM [CERT_PEM KEY_PEM]` asks for the health of
the server as a whole through `grpc.ssl_channel_credentials`, with a client certificate when
one is given, and prints the status (`SERVING`), or `status <CODE>` when the call failed.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import tls_channel


def main():
    with tls_channel.from_args(sys.argv[1:]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        try:
            answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=20)
            print(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status), flush=True)
        except grpc.RpcError as error:
            print("status", error.code().name, flush=True)


if __name__ == "__main__":
    main()
