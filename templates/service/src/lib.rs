//! The {% if proto == "guide" %}`{{package}}.{{service}}` service{% else %}`{{package}}` services{% endif %}: the code generated from `proto/service.proto` and
//! the handlers (`src/handlers/`, one file per service, as `rust-stream scaffold` writes
//! them). `src/main.rs` serves them; `src/bin/client.rs` calls them.

/// Messages, tonic client and server, and rust-stream's stream layer for
/// `proto/service.proto`: per service `<service>_stream` with the handler trait, the
/// service, the tuned client, `server_builder()` and the test harness `test_server`.
{%- if codegen == "build-rs" %}
#[allow(missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/{{package_file}}"));
}
{%- else %}
///
/// `#[derive(StreamService)]` on {% if proto == "guide" %}the handler{% else %}the first service's handler{% endif %} generates them, nested by
/// package.
pub mod pb {
    pub use crate::handlers::{% if proto == "guide" %}{{service_snake}}{% else %}inventory{% endif %}::generated::{{package_path}}::*;
}
{%- endif %}

pub mod handlers;

/// The encoded `FileDescriptorSet` of `proto/` (imports included), which the reflection
/// service serves.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));

/// The fully qualified name of every service the server serves, as health checks and
/// reflection name them.
{% if proto == "guide" -%}
pub const SERVICES: &[&str] = &[pb::{{service_snake}}_server::SERVICE_NAME];
{%- else -%}
pub const SERVICES: &[&str] = &[
    pb::inventory_server::SERVICE_NAME,
    pb::transfer_server::SERVICE_NAME,
];
{%- endif %}
