//! Responses as JSON lines on stdout.

use super::error::CliError;
use prost_reflect::{DynamicMessage, ReflectMessage, SerializeOptions};
use std::io::{ErrorKind, Write};

/// Prints each response as one line of proto3 JSON.
#[derive(Debug)]
pub(super) struct Printer {
    options: SerializeOptions,
}

impl Printer {
    /// The standard mapping (lowerCamelCase JSON names, defaults left out, 64-bit integers
    /// as strings), with `emit_defaults` and `proto_names` as `call`'s flags ask.
    pub(super) fn new(emit_defaults: bool, proto_names: bool) -> Self {
        Printer {
            options: SerializeOptions::new()
                .skip_default_fields(!emit_defaults)
                .use_proto_field_name(proto_names),
        }
    }

    /// `message` as one line of JSON, without the newline.
    pub(super) fn json(&self, message: &DynamicMessage) -> Result<String, CliError> {
        let mut serializer = serde_json::Serializer::new(Vec::new());
        message
            .serialize_with_options(&mut serializer, &self.options)
            .map_err(|err| {
                CliError::Internal(format!(
                    "a {} response has no JSON form: {err}",
                    message.descriptor().full_name()
                ))
            })?;
        String::from_utf8(serializer.into_inner())
            .map_err(|_| CliError::Internal("serde_json wrote invalid UTF-8".into()))
    }

    /// Writes `message` to stdout as one line, flushed so a stream shows as it arrives. A
    /// closed stdout (the reader of a pipe went away) is [`CliError::OutputClosed`].
    pub(super) fn print(&self, message: &DynamicMessage) -> Result<(), CliError> {
        let line = self.json(message)?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|err| match err.kind() {
                ErrorKind::BrokenPipe => CliError::OutputClosed,
                _ => CliError::Internal(format!("writing to stdout failed: {err}")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::{DescriptorPool, Value};

    /// An `a.Res` (`uint64 bytes_received = 1; string note = 2;`) with 70000 bytes.
    fn result_message() -> DynamicMessage {
        let pool = DescriptorPool::decode(&super::super::fixture::descriptor_set()[..]).unwrap();
        let mut message = DynamicMessage::new(pool.get_message_by_name("a.Res").unwrap());
        message.set_field_by_name("bytes_received", Value::U64(70_000));
        message
    }

    #[test]
    fn the_standard_mapping_by_default() {
        let json = Printer::new(false, false).json(&result_message()).unwrap();
        assert_eq!(json, r#"{"bytesReceived":"70000"}"#);
    }

    #[test]
    fn defaults_and_proto_names_on_request() {
        let json = Printer::new(true, true).json(&result_message()).unwrap();
        assert_eq!(json, r#"{"bytes_received":"70000","note":""}"#);
    }
}
