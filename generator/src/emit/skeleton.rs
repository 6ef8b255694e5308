//! Editable handler skeletons (`rust-stream scaffold`): one file per service with a struct
//! implementing the service's handler trait. Bodies follow the guide per pattern and compile
//! as generated, answering `UNIMPLEMENTED` where user logic goes.
//!
//! The file belongs to the user once written. Scaffolding again only inserts stubs for RPCs
//! the file does not have yet, above the insertion marker line, and leaves every other line
//! byte for byte as it was.

use crate::error::{DiagnosticKind, Error};
use crate::model::{Method, Pattern, Service};

/// The line new stubs are inserted above.
pub const MARKER: &str = "    // rust-stream: new RPCs are added above this line.";

/// Prefix of the comment that starts each stub, followed by the RPC's proto name.
pub const RPC_MARKER: &str = "// rust-stream: rpc ";

/// The skeleton file of a service: `<service_snake>.rs`.
pub fn file_name(service: &Service) -> String {
    format!("{}.rs", service.stream_module.trim_end_matches("_stream"))
}

/// Joins a module path and a path relative to the package module.
fn join(base: &str, relative: &str) -> String {
    if relative.starts_with("::") || relative == "()" {
        return relative.to_owned();
    }
    let mut base: Vec<&str> = base.split("::").collect();
    let mut rest = relative;
    while let Some(tail) = rest.strip_prefix("super::") {
        if base.len() > 1 {
            base.pop();
        }
        rest = tail;
    }
    format!("{}::{rest}", base.join("::"))
}

/// Returns the skeleton for `service` (generated code at `module_path`), given the file's
/// current text, and the RPCs it added.
pub fn scaffold(
    service: &Service,
    module_path: &str,
    runtime_path: &str,
    existing: Option<&str>,
) -> Result<(String, Vec<String>), Error> {
    let _ = runtime_path;
    let Some(existing) = existing else {
        let added = service
            .methods
            .iter()
            .map(|m| m.proto_name.clone())
            .collect();
        return Ok((new_file(service, module_path), added));
    };
    let missing: Vec<&Method> = service
        .methods
        .iter()
        .filter(|m| {
            !existing.contains(&format!("{RPC_MARKER}{}\n", m.proto_name))
                && !existing.contains(&format!("fn {}(", m.rust_name))
        })
        .collect();
    if missing.is_empty() {
        return Ok((existing.to_owned(), Vec::new()));
    }
    let Some(at) = existing.find(&format!("{MARKER}\n")) else {
        return Err(Error::new(
            DiagnosticKind::Internal,
            format!(
                "the skeleton of `{}` lacks the line `{}`; put it back inside the `impl` block \
             where new stubs should go",
                service.full_name,
                MARKER.trim()
            ),
        ));
    };
    let mut text = String::with_capacity(existing.len() + missing.len() * 600);
    text.push_str(&existing[..at]);
    for method in &missing {
        text.push_str(&stub(method, module_path));
        text.push('\n');
    }
    text.push_str(&existing[at..]);
    Ok((text, missing.iter().map(|m| m.proto_name.clone()).collect()))
}

fn new_file(service: &Service, module_path: &str) -> String {
    let handler = format!(
        "{module_path}::{}::{}",
        service.stream_module,
        crate::ident::compose(&service.rust_name, "Handler")
    );
    let adapter = format!(
        "{module_path}::{}::{}",
        service.stream_module,
        crate::ident::compose(&service.rust_name, "Service")
    );
    let name = crate::ident::compose(&service.rust_name, "Impl");
    let mut text = format!(
        "//! The `{full}` service, scaffolded by `rust-stream scaffold`.\n\
         //!\n\
         //! This file is yours to edit. Running `rust-stream scaffold` again adds stubs for RPCs\n\
         //! added to the proto and leaves everything else as it is.\n\
         //!\n\
         //! Serve it with `{adapter}::new({name}).into_server()`.\n\
         \n\
         /// Implements `{full}`.\n\
         #[derive(Debug, Default)]\n\
         pub struct {name};\n\
         \n\
         {allow}impl {handler} for {name} {{\n",
        full = service.full_name,
        allow = if service.deprecated {
            "#[allow(deprecated)]\n"
        } else {
            ""
        },
    );
    for (i, method) in service.methods.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&stub(method, module_path));
    }
    if !service.methods.is_empty() {
        text.push('\n');
    }
    text.push_str(MARKER);
    text.push_str("\n}\n");
    text
}

fn stub(method: &Method, module_path: &str) -> String {
    let req = join(module_path, &method.request.rust_path);
    let res = join(module_path, &method.response.rust_path);
    let name = &method.rust_name;
    let proto = &method.proto_name;
    let status = "::rust_stream::codegen::tonic::Status";
    let rt = "::rust_stream";
    let allow = if method.deprecated {
        "    #[allow(deprecated)]\n"
    } else {
        ""
    };
    let body = match method.pattern {
        Pattern::Unary => format!(
            "    async fn {name}(\n\
             \x20       &self,\n\
             \x20       ctx: {rt}::CallContext,\n\
             \x20       request: {req},\n\
             \x20   ) -> Result<{res}, {status}> {{\n\
             \x20       let _ = (&ctx, &request);\n\
             \x20       // Look the request up; answer NOT_FOUND for what does not exist, as the\n\
             \x20       // guide's `context.abort(NOT_FOUND, ...)` does.\n\
             \x20       let found: Option<{res}> = None;\n\
             \x20       match found {{\n\
             \x20           Some(response) => Ok(response),\n\
             \x20           None => Err({status}::unimplemented(\"{proto} is not implemented yet\")),\n\
             \x20       }}\n\
             \x20   }}\n"
        ),
        Pattern::ServerStreaming => format!(
            "    async fn {name}(\n\
             \x20       &self,\n\
             \x20       ctx: {rt}::CallContext,\n\
             \x20       request: {req},\n\
             \x20       sink: {rt}::ResponseSink<{res}>,\n\
             \x20   ) -> Result<(), {status}> {{\n\
             \x20       let _ = (&ctx, &request);\n\
             \x20       // Stream until done or until the client goes away.\n\
             \x20       while sink.is_active() {{\n\
             \x20           let next: Option<{res}> = None;\n\
             \x20           match next {{\n\
             \x20               Some(response) => sink.send(response).await?,\n\
             \x20               None => break,\n\
             \x20           }}\n\
             \x20       }}\n\
             \x20       Err({status}::unimplemented(\"{proto} is not implemented yet\"))\n\
             \x20   }}\n"
        ),
        Pattern::ClientStreaming if method.request.chunk.is_some() => format!(
            "    async fn {name}(\n\
             \x20       &self,\n\
             \x20       ctx: {rt}::CallContext,\n\
             \x20       mut requests: {rt}::RequestStream<{req}>,\n\
             \x20   ) -> Result<{res}, {status}> {{\n\
             \x20       let _ = &ctx;\n\
             \x20       // Read the upload chunk by chunk; limits end it with a clear status.\n\
             \x20       let mut total: u64 = 0;\n\
             \x20       while let Some(chunk) = requests.chunk().await? {{\n\
             \x20           total += chunk.len() as u64;\n\
             \x20       }}\n\
             \x20       Err({status}::unimplemented(format!(\n\
             \x20           \"{proto} is not implemented yet ({{total}} bytes received)\"\n\
             \x20       )))\n\
             \x20   }}\n"
        ),
        Pattern::ClientStreaming => format!(
            "    async fn {name}(\n\
             \x20       &self,\n\
             \x20       ctx: {rt}::CallContext,\n\
             \x20       mut requests: {rt}::RequestStream<{req}>,\n\
             \x20   ) -> Result<{res}, {status}> {{\n\
             \x20       let _ = &ctx;\n\
             \x20       // Read every message; limits end the stream with a clear status.\n\
             \x20       let mut count: u64 = 0;\n\
             \x20       while let Some(request) = requests.message().await? {{\n\
             \x20           let _ = request;\n\
             \x20           count += 1;\n\
             \x20       }}\n\
             \x20       Err({status}::unimplemented(format!(\n\
             \x20           \"{proto} is not implemented yet ({{count}} messages received)\"\n\
             \x20       )))\n\
             \x20   }}\n"
        ),
        Pattern::Bidi => format!(
            "    async fn {name}(\n\
             \x20       &self,\n\
             \x20       ctx: {rt}::CallContext,\n\
             \x20       mut requests: {rt}::RequestStream<{req}>,\n\
             \x20       sink: {rt}::ResponseSink<{res}>,\n\
             \x20   ) -> Result<(), {status}> {{\n\
             \x20       let _ = &ctx;\n\
             \x20       // Receive and respond; the two directions are independent.\n\
             \x20       while let Some(request) = requests.message().await? {{\n\
             \x20           let response: Option<{res}> = None;\n\
             \x20           let _ = request;\n\
             \x20           if let Some(response) = response {{\n\
             \x20               sink.send(response).await?;\n\
             \x20           }}\n\
             \x20       }}\n\
             \x20       Err({status}::unimplemented(\"{proto} is not implemented yet\"))\n\
             \x20   }}\n"
        ),
    };
    format!("    {RPC_MARKER}{proto}\n{allow}{body}")
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(join("crate::pb::a", "Msg"), "crate::pb::a::Msg");
        assert_eq!(join("crate::pb::a", "super::b::Msg"), "crate::pb::b::Msg");
        assert_eq!(
            join("crate::pb", "::prost_types::Timestamp"),
            "::prost_types::Timestamp"
        );
        assert_eq!(join("crate::pb", "()"), "()");
    }
}
