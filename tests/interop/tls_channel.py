"""A grpcio channel over TLS from a test script's arguments, for the scripts that call a
rust-stream server with `grpc.ssl_channel_credentials`: `ADDR CA_PEM [CERT_PEM KEY_PEM]`,
the CA that signed the server's certificate and, for mTLS, the client's certificate and key.
"""

import grpc


def read(path):
    with open(path, "rb") as f:
        return f.read()


def from_args(args):
    """The channel `args` (ADDR CA_PEM [CERT_PEM KEY_PEM]) describe; close it when done."""
    addr, ca = args[0], read(args[1])
    cert, key = (read(args[2]), read(args[3])) if len(args) > 3 else (None, None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    # The server's certificate names localhost; the tests dial 127.0.0.1.
    options = (("grpc.ssl_target_name_override", "localhost"),)
    return grpc.secure_channel(addr, credentials, options=options)
