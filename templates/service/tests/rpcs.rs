//! Every RPC over a real socket, a test each, generated from the protos at build time: each
//! calls its RPC with a default request through its service's test harness and passes when
//! a handler answers (a stub's `UNIMPLEMENTED`, OK, or a status the handler chose).

use {{crate_name}}::handlers;

{{crate_name}}::rpc_tests!(handlers::all());
