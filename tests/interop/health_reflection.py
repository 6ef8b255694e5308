"""Checks a running server with the official gRPC clients: `python health_reflection.py ADDR
SERVICE...` asks grpc.health.v1.Health for each SERVICE (and the server, "") and lists the
services over reflection, v1 and v1alpha; prints one line per answer:

    health <service> SERVING
    reflection <version> <service>
    file <version> <service> <file name of its descriptor> options kept|lost

The test compares the lines; anything unexpected is a non-zero exit with the reason.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2

from google.protobuf import descriptor_pb2


def reflection(channel, version, services):
    """Lists the services over `grpc.reflection.<version>` and asks for each one's file.

    grpcio-reflection ships the v1alpha client only; v1's messages are the same ones (same
    fields, same numbers) in another package, so v1 is called with them on its own path.
    """
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=v1alpha_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=v1alpha_pb2.ServerReflectionResponse.FromString,
    )
    requests = [v1alpha_pb2.ServerReflectionRequest(list_services="")]
    requests += [v1alpha_pb2.ServerReflectionRequest(file_containing_symbol=s) for s in services]
    responses = list(call(iter(requests), timeout=10))
    for service in responses[0].list_services_response.service:
        print(f"reflection {version} {service.name}")
    for service, response in zip(services, responses[1:]):
        if response.HasField("error_response"):
            sys.exit(f"{version}: no file for {service}: {response.error_response}")
        # The first file holds the symbol; the rest are its imports.
        first = response.file_descriptor_response.file_descriptor_proto[0]
        proto = descriptor_pb2.FileDescriptorProto.FromString(first)
        # The service's `(rust_stream.service)` option is an extension this client does not
        # know: it survives only if the server sent the descriptor as protox encoded it.
        name = service.rsplit(".", 1)[-1]
        options = [s.options for s in proto.service if s.name == name]
        kept = "options kept" if options and options[0].SerializeToString() else "options lost"
        print(f"file {version} {service} {proto.name} {kept}")


def main():
    addr, services = sys.argv[1], sys.argv[2:]
    with grpc.insecure_channel(addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in services + [""]:
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            print(f"health {service or '(server)'} {status}")
        reflection(channel, "v1", services)
        reflection(channel, "v1alpha", services)


if __name__ == "__main__":
    main()
