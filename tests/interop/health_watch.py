"""Holds a health watch open with grpcio's own client: `python health_watch.py ADDR` watches
the server's health ("", the server as a whole), prints the first status as soon as it
arrives, then waits for the stream to end and prints how: `ended <CODE>` (UNAVAILABLE when a
server shuts down). The test sends the server SIGTERM in between.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main():
    addr = sys.argv[1]
    with grpc.insecure_channel(addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answers = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        try:
            for answer in answers:
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
                print(status, flush=True)
            print("ended OK", flush=True)
        except grpc.RpcError as error:
            print(f"ended {error.code().name}", flush=True)


if __name__ == "__main__":
    main()
