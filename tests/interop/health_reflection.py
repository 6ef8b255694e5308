"""Checks a running server with the official gRPC clients: `python health_reflection.py ADDR
SERVICE...` asks grpc.health.v1.Health for each SERVICE (and the server, "") and lists the
services over reflection, v1 and v1alpha; prints one line per answer:

    health <service> SERVING
    reflection <version> <service>
    file <version> <service> <file name of its descriptor>

The test compares the lines; anything unexpected is a non-zero exit with the reason.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2
from grpc_reflection.v1alpha import reflection_pb2_grpc as v1alpha_grpc

try:
    from grpc_reflection.v1 import reflection_pb2 as v1_pb2
    from grpc_reflection.v1 import reflection_pb2_grpc as v1_grpc
except ImportError:  # older grpcio-reflection ships only v1alpha
    v1_pb2 = v1_grpc = None
from google.protobuf import descriptor_pb2


def reflection(channel, version, pb2, grpc_module, services):
    stub = grpc_module.ServerReflectionStub(channel)
    requests = [pb2.ServerReflectionRequest(list_services="")]
    requests += [pb2.ServerReflectionRequest(file_containing_symbol=s) for s in services]
    responses = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    for service in responses[0].list_services_response.service:
        print(f"reflection {version} {service.name}")
    for service, response in zip(services, responses[1:]):
        if response.HasField("error_response"):
            sys.exit(f"{version}: no file for {service}: {response.error_response}")
        # The first file holds the symbol; the rest are its imports.
        first = response.file_descriptor_response.file_descriptor_proto[0]
        proto = descriptor_pb2.FileDescriptorProto.FromString(first)
        print(f"file {version} {service} {proto.name}")


def main():
    addr, services = sys.argv[1], sys.argv[2:]
    with grpc.insecure_channel(addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in services + [""]:
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            print(f"health {service or '(server)'} {status}")
        if v1_pb2 is None:
            sys.exit("grpcio-reflection has no v1 client")
        reflection(channel, "v1", v1_pb2, v1_grpc, services)
        reflection(channel, "v1alpha", v1alpha_pb2, v1alpha_grpc, services)


if __name__ == "__main__":
    main()
