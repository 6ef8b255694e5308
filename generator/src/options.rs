//! Generator settings: plugin parameters, the `rust_stream` proto options, and how they
//! combine.
//!
//! Precedence, most specific first, field by field:
//! 1. the method's `(rust_stream.method)` option;
//! 2. the service's `(rust_stream.service).methods` option;
//! 3. the generator's parameters ([`Params`]: `--rust-stream_opt=buffer=64`, the build API);
//! 4. the runtime's defaults (`CallConfig::DEFAULT`, `Tuning::BALANCED`, 64 KiB chunks).
//!
//! Tuning (preset and windows) follows the same order without the method level.

use crate::error::{DiagnosticKind, Error};

/// The preset names the runtime's `Tuning::preset` knows.
pub const PRESETS: [&str; 3] = ["balanced", "low_latency", "bulk_transfer"];

/// Largest HTTP/2 window (2^31 - 1).
const MAX_WINDOW: u32 = i32::MAX as u32;

/// The settings of one method's guards and helpers; `None` falls through to the next level.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct MethodOptions {
    /// Responses buffered between a streaming handler and the network.
    #[prost(uint32, optional, tag = "1")]
    pub buffer: Option<u32>,
    /// Most bytes accepted on one call; 0 is no limit.
    #[prost(uint64, optional, tag = "2")]
    pub max_total_bytes: Option<u64>,
    /// Most messages accepted on one call; 0 is no limit.
    #[prost(uint64, optional, tag = "3")]
    pub max_messages: Option<u64>,
    /// Longest wait for the next message in milliseconds; 0 is no limit.
    #[prost(uint64, optional, tag = "4")]
    pub idle_timeout_ms: Option<u64>,
    /// Chunk size of the upload helper in bytes.
    #[prost(uint32, optional, tag = "5")]
    pub chunk_size: Option<u32>,
    /// Default deadline in milliseconds; 0 is none.
    #[prost(uint64, optional, tag = "6")]
    pub deadline_ms: Option<u64>,
}

impl MethodOptions {
    /// Fills every unset field of `self` from `fallback`.
    pub fn or(self, fallback: MethodOptions) -> MethodOptions {
        MethodOptions {
            buffer: self.buffer.or(fallback.buffer),
            max_total_bytes: self.max_total_bytes.or(fallback.max_total_bytes),
            max_messages: self.max_messages.or(fallback.max_messages),
            idle_timeout_ms: self.idle_timeout_ms.or(fallback.idle_timeout_ms),
            chunk_size: self.chunk_size.or(fallback.chunk_size),
            deadline_ms: self.deadline_ms.or(fallback.deadline_ms),
        }
    }

    /// `true` if no field is set (the runtime's `CallConfig::DEFAULT` applies).
    pub fn is_default(&self) -> bool {
        self.buffer.is_none()
            && self.max_total_bytes.is_none()
            && self.max_messages.is_none()
            && self.idle_timeout_ms.is_none()
            && self.deadline_ms.is_none()
    }
}

/// The settings of one service; `None` (or an empty preset) falls through.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ServiceOptions {
    /// Tuning preset name.
    #[prost(string, tag = "1")]
    pub tuning: String,
    /// Per-stream window in bytes.
    #[prost(uint32, optional, tag = "2")]
    pub stream_window: Option<u32>,
    /// Connection window in bytes.
    #[prost(uint32, optional, tag = "3")]
    pub connection_window: Option<u32>,
    /// Largest message in bytes.
    #[prost(uint64, optional, tag = "4")]
    pub max_message_size: Option<u64>,
    /// Defaults for every method of the service.
    #[prost(message, optional, tag = "5")]
    pub methods: Option<MethodOptions>,
}

/// A service's resolved tuning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TuningSpec {
    /// The preset (`balanced` unless set).
    pub preset: String,
    /// Explicit per-stream window.
    pub stream_window: Option<u32>,
    /// Explicit connection window.
    pub connection_window: Option<u32>,
    /// Explicit message size limit.
    pub max_message_size: Option<u64>,
}

impl ServiceOptions {
    /// Resolves this service's tuning over the parameters' defaults.
    pub fn tuning(&self, params: &Params) -> TuningSpec {
        let preset = if self.tuning.is_empty() {
            params
                .tuning
                .clone()
                .unwrap_or_else(|| "balanced".to_owned())
        } else {
            self.tuning.clone()
        };
        TuningSpec {
            preset,
            stream_window: self.stream_window.or(params.tuning_overrides.stream_window),
            connection_window: self
                .connection_window
                .or(params.tuning_overrides.connection_window),
            max_message_size: self
                .max_message_size
                .or(params.tuning_overrides.max_message_size),
        }
    }
}

/// Checks a resolved tuning; returns the problem, if any.
pub fn check_tuning(tuning: &TuningSpec) -> Option<String> {
    if !PRESETS.contains(&tuning.preset.as_str()) {
        return Some(format!(
            "unknown tuning preset `{}`; valid presets: {}",
            tuning.preset,
            PRESETS.join(", ")
        ));
    }
    for (name, window) in [
        ("stream_window", tuning.stream_window),
        ("connection_window", tuning.connection_window),
    ] {
        if let Some(window) = window
            && !(65_535..=MAX_WINDOW).contains(&window)
        {
            return Some(format!(
                "{name} {window} is outside HTTP/2's 65535..=2147483647"
            ));
        }
    }
    if tuning.max_message_size == Some(0) {
        return Some("max_message_size must be at least 1".to_owned());
    }
    None
}

/// What to generate and how: the plugin's parameters, the build API's and the CLI's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Path of the runtime crate in generated code (`runtime_path=`), `::rust_stream` by default.
    pub runtime_path: String,
    /// Emit only the stream layer, for users who generate messages and tonic code with
    /// other plugins (`stream_only`). Files are then named `<package>.stream.rs`.
    pub stream_only: bool,
    /// Also write one file nesting every package's module (`include_file=<name>`).
    pub include_file: Option<String>,
    /// Proto paths whose `bytes` fields become `bytes::Bytes` (`bytes=<path>`, repeatable).
    pub bytes: Vec<String>,
    /// Default tuning preset (`tuning=`).
    pub tuning: Option<String>,
    /// Default explicit windows and message size (`stream_window=`, ...).
    pub tuning_overrides: ServiceOptions,
    /// Default method settings (`buffer=`, `chunk_size=`, ...).
    pub method_defaults: MethodOptions,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            runtime_path: "::rust_stream".to_owned(),
            stream_only: false,
            include_file: None,
            bytes: Vec::new(),
            tuning: None,
            tuning_overrides: ServiceOptions::default(),
            method_defaults: MethodOptions::default(),
        }
    }
}

/// Every parameter `Params::parse` accepts, with what it takes.
pub const PARAMETERS: &[(&str, &str)] = &[
    (
        "runtime_path",
        "path of the runtime crate, default ::rust_stream",
    ),
    ("stream_only", "true|false: emit only the stream layer"),
    (
        "include_file",
        "file name of a file nesting all packages' modules",
    ),
    (
        "bytes",
        "proto path whose bytes fields become Bytes (repeatable)",
    ),
    ("tuning", "balanced|low_latency|bulk_transfer"),
    ("stream_window", "bytes"),
    ("connection_window", "bytes"),
    ("max_message_size", "bytes"),
    ("buffer", "responses"),
    ("max_total_bytes", "bytes, 0 = no limit"),
    ("max_messages", "count, 0 = no limit"),
    ("idle_timeout_ms", "milliseconds, 0 = no limit"),
    ("chunk_size", "bytes"),
    ("deadline_ms", "milliseconds, 0 = none"),
];

impl Params {
    /// Parses protoc's parameter string (`k=v,k2=v2`, as given by `--rust-stream_opt` and
    /// `--rust-stream_out=k=v:DIR`). Every problem is reported, each naming the parameter and
    /// listing the valid ones.
    pub fn parse(parameter: &str) -> Result<Params, Error> {
        let mut params = Params::default();
        let mut problems = Vec::new();
        for item in parameter
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            if let Err(problem) = params.set(key, value) {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            params.check()?;
            Ok(params)
        } else {
            let valid: Vec<&str> = PARAMETERS.iter().map(|(k, _)| *k).collect();
            problems.push(format!("valid parameters: {}", valid.join(", ")));
            Err(Error::new(
                DiagnosticKind::InvalidOption,
                problems.join("\n"),
            ))
        }
    }

    /// Sets one parameter by name, as [`Params::parse`] does.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
            value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("parameter `{key}` needs a value: `{key}=...`"))
        }
        let number = |value: Option<&str>| -> Result<u64, String> {
            let v = need(key, value)?;
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("parameter `{key}`: `{v}` is not a non-negative integer"))
        };
        let number32 = |value: Option<&str>| -> Result<u32, String> {
            let n = number(value)?;
            u32::try_from(n).map_err(|_| format!("parameter `{key}`: {n} is too large"))
        };
        match key {
            "runtime_path" => {
                let v = need(key, value)?;
                if syn::parse_str::<syn::Path>(v).is_err() {
                    return Err(format!(
                        "parameter `runtime_path`: `{v}` is not a Rust path"
                    ));
                }
                self.runtime_path = v.to_owned();
            }
            "stream_only" => {
                self.stream_only = match value {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(v) => {
                        return Err(format!(
                            "parameter `stream_only`: `{v}` is not `true` or `false`"
                        ));
                    }
                }
            }
            "include_file" => {
                let v = need(key, value)?;
                if v.contains("..") || v.starts_with('/') || v.contains('\\') {
                    return Err(format!(
                        "parameter `include_file`: `{v}` must be a relative path inside the output directory"
                    ));
                }
                self.include_file = Some(v.to_owned());
            }
            "bytes" => self.bytes.push(need(key, value)?.to_owned()),
            "tuning" => {
                let v = need(key, value)?;
                if !PRESETS.contains(&v) {
                    return Err(format!(
                        "parameter `tuning`: unknown preset `{v}`; valid presets: {}",
                        PRESETS.join(", ")
                    ));
                }
                self.tuning = Some(v.to_owned());
            }
            "stream_window" => self.tuning_overrides.stream_window = Some(number32(value)?),
            "connection_window" => self.tuning_overrides.connection_window = Some(number32(value)?),
            "max_message_size" => self.tuning_overrides.max_message_size = Some(number(value)?),
            "buffer" => self.method_defaults.buffer = Some(number32(value)?),
            "max_total_bytes" => self.method_defaults.max_total_bytes = Some(number(value)?),
            "max_messages" => self.method_defaults.max_messages = Some(number(value)?),
            "idle_timeout_ms" => self.method_defaults.idle_timeout_ms = Some(number(value)?),
            "chunk_size" => self.method_defaults.chunk_size = Some(number32(value)?),
            "deadline_ms" => self.method_defaults.deadline_ms = Some(number(value)?),
            _ => return Err(format!("unknown parameter `{key}`")),
        }
        Ok(())
    }

    /// Checks values that are only wrong in combination.
    pub fn check(&self) -> Result<(), Error> {
        let tuning = ServiceOptions::default().tuning(self);
        match check_tuning(&tuning) {
            Some(problem) => Err(Error::new(
                DiagnosticKind::InvalidOption,
                format!("parameters: {problem}"),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let params = Params::parse(
            "runtime_path=::my::rt, stream_only,include_file=mod.rs,bytes=.a.B,bytes=.c,\
             tuning=bulk_transfer,stream_window=1048576,connection_window=2097152,\
             max_message_size=100,buffer=8,max_total_bytes=0,max_messages=3,\
             idle_timeout_ms=1_000,chunk_size=4096,deadline_ms=5000",
        )
        .unwrap();
        assert_eq!(params.runtime_path, "::my::rt");
        assert!(params.stream_only);
        assert_eq!(params.include_file.as_deref(), Some("mod.rs"));
        assert_eq!(params.bytes, [".a.B", ".c"]);
        assert_eq!(params.tuning.as_deref(), Some("bulk_transfer"));
        assert_eq!(params.method_defaults.idle_timeout_ms, Some(1000));
        assert_eq!(params.method_defaults.max_total_bytes, Some(0));
    }

    #[test]
    fn unknown_and_malformed_parameters_are_named_with_the_valid_ones() {
        let err = Params::parse("colour=red,buffer=many,stream_only=maybe").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown parameter `colour`"), "{text}");
        assert!(text.contains("`buffer`: `many`"), "{text}");
        assert!(text.contains("`stream_only`: `maybe`"), "{text}");
        assert!(text.contains("valid parameters: runtime_path"), "{text}");
        assert!(Params::parse("tuning=fast").is_err());
        assert!(Params::parse("stream_window=10").is_err());
        assert!(Params::parse("runtime_path=not a path").is_err());
        assert!(Params::parse("include_file=../x.rs").is_err());
        assert!(Params::parse("buffer").is_err());
        assert_eq!(Params::parse("").unwrap(), Params::default());
    }

    #[test]
    fn method_options_fall_through_field_by_field() {
        let method = MethodOptions {
            buffer: Some(1),
            ..Default::default()
        };
        let service = MethodOptions {
            buffer: Some(2),
            chunk_size: Some(3),
            ..Default::default()
        };
        let params = MethodOptions {
            chunk_size: Some(4),
            deadline_ms: Some(5),
            ..Default::default()
        };
        let resolved = method.or(service).or(params);
        assert_eq!(resolved.buffer, Some(1));
        assert_eq!(resolved.chunk_size, Some(3));
        assert_eq!(resolved.deadline_ms, Some(5));
        assert_eq!(resolved.max_messages, None);
    }
}
