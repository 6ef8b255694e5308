//! The handlers, one file per service. `rust-stream scaffold` writes them and, run again
//! after the proto has grown, adds stubs for new RPCs without changing a line of yours;
//! declare the file of a new service here.

{% if proto == "guide" -%}
pub mod {{service_snake}};
{%- else -%}
pub mod inventory;
pub mod transfer;
{%- endif %}
