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

/// An option's value as the CLI and the docs show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionValue {
    /// A number (bytes, milliseconds, a count; 0 is "none" where the option says so).
    Number(u64),
    /// A word (`gzip`, `true`).
    Word(&'static str),
}

impl std::fmt::Display for OptionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionValue::Number(n) => write!(f, "{n}"),
            OptionValue::Word(w) => f.write_str(w),
        }
    }
}

/// Where an option lands in the runtime's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `CallConfig::buffer` (and the client's bidi request buffer).
    Buffer,
    /// A field of `InboundLimits` of the same name (`idle_timeout` for `idle_timeout_ms`).
    Limit,
    /// `CallConfig::default_deadline`.
    Deadline,
    /// `CallConfig::compression`.
    Compression,
    /// The client's upload helper only; not part of `CallConfig`.
    UploadChunk,
    /// A field of the runtime's `Tuning` of the same name.
    Tuning,
}

/// One field of a `rust_stream` option message, declared once in `declare_options!`: the
/// proto field (`options.proto` holds the same name and number), the parameter of the
/// same name, the CLI's column and JSON key, and the runtime's setting with its default.
pub struct Declared<S: 'static> {
    /// The field's, the parameter's and the CLI's name.
    pub name: &'static str,
    /// The proto field number in `rust_stream/options.proto`.
    pub tag: &'static str,
    /// Where the runtime applies it.
    pub setting: Setting,
    /// What applies when no level sets it: the runtime's default (`None`: the tuning
    /// preset's).
    pub default: Option<OptionValue>,
    /// The value set at this level, if any.
    pub value: fn(&S) -> Option<OptionValue>,
}

/// A numeric option's value.
fn shown_number<T: Copy + Into<u64>>(n: &T) -> Option<OptionValue> {
    Some(OptionValue::Number((*n).into()))
}

/// Declares an option message once: its fields (as `rust_stream/options.proto`'s, with their
/// prost encoding), its [`Declared`] table `OPTIONS`, a [`Parameter`] for each field (same
/// name, set in `Params::$params`), and `fill`, which takes unset fields from a fallback.
macro_rules! declare_options {
    (
        $(#[$attr:meta])*
        pub struct $name:ident (in Params::$params:ident) {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: [$($prost:tt)*] $ty:ty = $tag:literal {
                    takes: $takes:literal,
                    setting: $setting:ident,
                    default: $default:expr,
                    parse: $parse:path,
                    show: $show:path $(,)?
                }
            )*
        }
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[prost($($prost)*, optional, tag = $tag)]
                pub $field: Option<$ty>,
            )*
            $($rest)*
        }

        impl $name {
            /// Every option of this message, in `options.proto`'s order.
            pub const OPTIONS: &'static [Declared<$name>] = &[$(
                Declared {
                    name: stringify!($field),
                    tag: $tag,
                    setting: Setting::$setting,
                    default: $default,
                    value: |options| options.$field.as_ref().and_then($show),
                },
            )*];

            /// The parameters setting these fields' defaults.
            const PARAMETERS: &'static [Parameter] = &[$(
                Parameter {
                    name: stringify!($field),
                    takes: $takes,
                    default: $default,
                    set: |params, value| {
                        params.$params.$field = Some($parse(stringify!($field), value)?);
                        Ok(())
                    },
                },
            )*];

            /// Sets every field not set here (`UNSPECIFIED` is not set) from `fallback`.
            fn fill(&mut self, fallback: &$name) {
                $(
                    if self.$field.as_ref().and_then($show).is_none() {
                        self.$field = fallback.$field;
                    }
                )*
            }

            /// Each option set here, with its value, in declaration order.
            pub fn set_values(&self) -> impl Iterator<Item = (&'static str, OptionValue)> + '_ {
                Self::OPTIONS
                    .iter()
                    .filter_map(move |option| Some((option.name, (option.value)(self)?)))
            }
        }
    };
}

declare_options! {
    /// The settings of one method's guards and helpers; `None` falls through to the next level.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct MethodOptions (in Params::method_defaults) {
        /// Responses buffered between a streaming handler and the network.
        buffer: [uint32] u32 = "1" {
            takes: "responses",
            setting: Buffer,
            default: Some(OptionValue::Number(128)),
            parse: number,
            show: shown_number,
        }
        /// Most bytes accepted on one call; 0 is no limit.
        max_total_bytes: [uint64] u64 = "2" {
            takes: "bytes, 0 = no limit",
            setting: Limit,
            default: Some(OptionValue::Number(1 << 30)),
            parse: number,
            show: shown_number,
        }
        /// Most messages accepted on one call; 0 is no limit.
        max_messages: [uint64] u64 = "3" {
            takes: "count, 0 = no limit",
            setting: Limit,
            default: Some(OptionValue::Number(0)),
            parse: number,
            show: shown_number,
        }
        /// Longest wait for the next message in milliseconds; 0 is no limit.
        idle_timeout_ms: [uint64] u64 = "4" {
            takes: "milliseconds, 0 = no limit",
            setting: Limit,
            default: Some(OptionValue::Number(60_000)),
            parse: number,
            show: shown_number,
        }
        /// Chunk size of the upload helper in bytes.
        chunk_size: [uint32] u32 = "5" {
            takes: "bytes",
            setting: UploadChunk,
            default: Some(OptionValue::Number(DEFAULT_CHUNK_SIZE as u64)),
            parse: number,
            show: shown_number,
        }
        /// Default deadline in milliseconds; 0 is none.
        deadline_ms: [uint64] u64 = "6" {
            takes: "milliseconds, 0 = none",
            setting: Deadline,
            default: Some(OptionValue::Number(0)),
            parse: number,
            show: shown_number,
        }
        /// Message compression of requests accepted and responses sent
        /// ([`CompressionOption`]).
        compression: [enumeration = "CompressionOption"] i32 = "7" {
            takes: "none|gzip|zstd: encoding accepted on requests and used for responses",
            setting: Compression,
            default: Some(OptionValue::Word("none")),
            parse: compression_number,
            show: shown_compression,
        }
    }
}

/// The runtime's chunk size of upload helpers (`rust_stream::DEFAULT_CHUNK_SIZE`, which
/// generated code names): what applies where no level sets `chunk_size`.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// A compression setting's name; `UNSPECIFIED` and unknown numbers are not a setting.
fn shown_compression(n: &i32) -> Option<OptionValue> {
    let option = CompressionOption::try_from(*n).ok()?;
    CompressionOption::NAMES
        .iter()
        .find(|(_, named)| *named == option)
        .map(|(name, _)| OptionValue::Word(name))
}

/// `compression=`'s value: the [`CompressionOption`] it names.
fn compression_number(key: &str, value: Option<&str>) -> Result<i32, String> {
    let v = need(key, value)?;
    CompressionOption::NAMES
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, option)| *option as i32)
        .ok_or_else(|| {
            let names: Vec<&str> = CompressionOption::NAMES.iter().map(|(n, _)| *n).collect();
            format!(
                "parameter `{key}`: unknown encoding `{v}`; valid encodings: {}",
                names.join(", ")
            )
        })
}

/// `rust_stream.Compression`: the encoding a method accepts on requests (besides none) and
/// uses for its responses when the client accepts it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
pub enum CompressionOption {
    /// Not set: the next level decides (no compression at the last).
    Unspecified = 0,
    /// No compression; a compressed request answers `UNIMPLEMENTED`.
    None = 1,
    /// gzip.
    Gzip = 2,
    /// zstd.
    Zstd = 3,
}

impl CompressionOption {
    /// The parameter's values, as `compression=` takes them.
    const NAMES: [(&'static str, CompressionOption); 3] = [
        ("none", CompressionOption::None),
        ("gzip", CompressionOption::Gzip),
        ("zstd", CompressionOption::Zstd),
    ];
}

impl MethodOptions {
    /// Fills every unset field of `self` from `fallback`.
    pub fn or(mut self, fallback: MethodOptions) -> MethodOptions {
        self.fill(&fallback);
        self
    }

    /// The compression set at this level, if any (`UNSPECIFIED` and unknown numbers are not
    /// a setting).
    pub fn compression_setting(&self) -> Option<CompressionOption> {
        self.compression
            .and_then(|n| CompressionOption::try_from(n).ok())
            .filter(|c| *c != CompressionOption::Unspecified)
    }

    /// The encoding of the method's requests and responses, after every level: `None` for
    /// no compression.
    pub fn encoding(&self) -> Option<CompressionOption> {
        self.compression_setting()
            .filter(|c| *c != CompressionOption::None)
    }

    /// `true` if no option of the runtime's `CallConfig` is set (its `DEFAULT` applies);
    /// the chunk size is the upload helper's, not the call's.
    pub fn is_default(&self) -> bool {
        MethodOptions::OPTIONS
            .iter()
            .filter(|option| option.setting != Setting::UploadChunk)
            .all(|option| (option.value)(self).is_none())
    }

    /// The options of `setting` set here, with their values, in declaration order.
    pub fn set_in(
        &self,
        setting: Setting,
    ) -> impl Iterator<Item = (&'static str, OptionValue)> + '_ {
        MethodOptions::OPTIONS
            .iter()
            .filter(move |option| option.setting == setting)
            .filter_map(move |option| Some((option.name, (option.value)(self)?)))
    }
}

declare_options! {
    /// The settings of one service; `None` (or an empty preset) falls through.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct ServiceOptions (in Params::tuning_overrides) {
        /// Per-stream window in bytes.
        stream_window: [uint32] u32 = "2" {
            takes: "bytes",
            setting: Tuning,
            default: None,
            parse: number,
            show: shown_number,
        }
        /// Connection window in bytes.
        connection_window: [uint32] u32 = "3" {
            takes: "bytes",
            setting: Tuning,
            default: None,
            parse: number,
            show: shown_number,
        }
        /// Largest message in bytes.
        max_message_size: [uint64] u64 = "4" {
            takes: "bytes",
            setting: Tuning,
            default: None,
            parse: number,
            show: shown_number,
        }
    }
    /// Tuning preset name.
    #[prost(string, tag = "1")]
    pub tuning: String,
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
        let mut merged = self.clone();
        merged.fill(&params.tuning_overrides);
        TuningSpec {
            preset,
            stream_window: merged.stream_window,
            connection_window: merged.connection_window,
            max_message_size: merged.max_message_size,
        }
    }
}

impl TuningSpec {
    /// The explicit overrides, as the declared service options they came from.
    pub fn overrides(&self) -> ServiceOptions {
        ServiceOptions {
            stream_window: self.stream_window,
            connection_window: self.connection_window,
            max_message_size: self.max_message_size,
            ..ServiceOptions::default()
        }
    }
}

/// `rust_stream.RetryPolicy`: how a generated client retries a method's calls through a
/// fleet channel (gRFC A6's `retryPolicy`). Unset fields take the runtime's
/// `RetryPolicy::IDEMPOTENT` values ([`IDEMPOTENT_RETRY`]); `max_attempts: 1` turns retries
/// off. Read through a view of the extension holding only `retry`, so [`MethodOptions`]
/// stays a plain `Copy` value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryOption {
    /// Most attempts, the first included: 1 (no retries) to 5.
    #[prost(uint32, optional, tag = "1")]
    pub max_attempts: Option<u32>,
    /// Upper bound of the first retry's random backoff, in milliseconds.
    #[prost(uint64, optional, tag = "2")]
    pub initial_backoff_ms: Option<u64>,
    /// Upper bound of any retry's random backoff, in milliseconds.
    #[prost(uint64, optional, tag = "3")]
    pub max_backoff_ms: Option<u64>,
    /// Growth of the backoff's bound per retry.
    #[prost(double, optional, tag = "4")]
    pub backoff_multiplier: Option<f64>,
    /// Status codes retried, by gRPC name (`UNAVAILABLE`).
    #[prost(string, repeated, tag = "5")]
    pub retryable_codes: Vec<String>,
}

/// The `retry` field of `rust_stream.MethodOptions` (number 8), read from the same bytes as
/// [`MethodOptions`]; `methods` holds the same view of `ServiceOptions.methods`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryOptions {
    /// `MethodOptions.retry`.
    #[prost(message, optional, tag = "8")]
    pub retry: Option<RetryOption>,
}

/// `ServiceOptions.methods.retry`, read as [`RetryOptions`] is.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServiceRetryOptions {
    /// `ServiceOptions.methods`.
    #[prost(message, optional, tag = "5")]
    pub methods: Option<RetryOptions>,
}

/// The runtime's `RetryPolicy::IDEMPOTENT`, which unset fields of a [`RetryOption`] take;
/// validation compares the backoffs against it.
pub const IDEMPOTENT_RETRY: RetryDefaults = RetryDefaults {
    max_attempts: 4,
    initial_backoff_ms: 100,
    max_backoff_ms: 1_000,
    backoff_multiplier: 2.0,
    retryable_codes: &["UNAVAILABLE"],
};

/// The values of a retry policy with every field set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryDefaults {
    /// Most attempts, the first included.
    pub max_attempts: u32,
    /// First retry's backoff bound, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Any retry's backoff bound, in milliseconds.
    pub max_backoff_ms: u64,
    /// Growth of the bound per retry.
    pub backoff_multiplier: f64,
    /// Codes retried, by gRPC name.
    pub retryable_codes: &'static [&'static str],
}

/// Most attempts gRFC A6 allows a policy (more are capped at this).
pub const MAX_RETRY_ATTEMPTS: u32 = 5;

/// The status codes a retry policy may name: gRPC's names and tonic's `Code` variants, in
/// code order. `OK` is not a failure, so it is not among them.
pub const RETRYABLE_CODES: [(&str, &str); 16] = [
    ("CANCELLED", "Cancelled"),
    ("UNKNOWN", "Unknown"),
    ("INVALID_ARGUMENT", "InvalidArgument"),
    ("DEADLINE_EXCEEDED", "DeadlineExceeded"),
    ("NOT_FOUND", "NotFound"),
    ("ALREADY_EXISTS", "AlreadyExists"),
    ("PERMISSION_DENIED", "PermissionDenied"),
    ("RESOURCE_EXHAUSTED", "ResourceExhausted"),
    ("FAILED_PRECONDITION", "FailedPrecondition"),
    ("ABORTED", "Aborted"),
    ("OUT_OF_RANGE", "OutOfRange"),
    ("UNIMPLEMENTED", "Unimplemented"),
    ("INTERNAL", "Internal"),
    ("UNAVAILABLE", "Unavailable"),
    ("DATA_LOSS", "DataLoss"),
    ("UNAUTHENTICATED", "Unauthenticated"),
];

impl RetryOption {
    /// `true` if the policy turns retries off (`max_attempts: 1`).
    pub fn disables(&self) -> bool {
        self.max_attempts == Some(1)
    }

    /// The codes retried, as tonic's `Code` variants, in code order without repeats; `None`
    /// if none is named (the default's apply).
    pub fn code_variants(&self) -> Option<Vec<&'static str>> {
        if self.retryable_codes.is_empty() {
            return None;
        }
        let variants = RETRYABLE_CODES
            .iter()
            .filter(|(name, _)| self.retryable_codes.iter().any(|c| c == name))
            .map(|(_, variant)| *variant)
            .collect();
        Some(variants)
    }

    /// Every problem with the policy, each a sentence naming the field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for code in &self.retryable_codes {
            if !RETRYABLE_CODES.iter().any(|(name, _)| name == code) {
                let names: Vec<&str> = RETRYABLE_CODES.iter().map(|(name, _)| *name).collect();
                problems.push(format!(
                    "retryable_codes: unknown status code `{code}`; valid codes: {}",
                    names.join(", ")
                ));
            }
        }
        if let Some(n) = self.max_attempts
            && !(1..=MAX_RETRY_ATTEMPTS).contains(&n)
        {
            problems.push(format!(
                "max_attempts {n} is outside 1..={MAX_RETRY_ATTEMPTS} (1 turns retries off; gRFC A6 caps attempts at {MAX_RETRY_ATTEMPTS})"
            ));
        }
        problems.extend(self.backoff_problem());
        if let Some(m) = self.backoff_multiplier
            && !(m.is_finite() && m > 0.0)
        {
            problems.push(format!(
                "backoff_multiplier {m} must be a finite number above 0"
            ));
        }
        problems
    }

    /// What is wrong with the backoffs, unset ones taking [`IDEMPOTENT_RETRY`]'s values.
    fn backoff_problem(&self) -> Option<String> {
        for (name, value) in [
            ("initial_backoff_ms", self.initial_backoff_ms),
            ("max_backoff_ms", self.max_backoff_ms),
        ] {
            if value == Some(0) {
                return Some(format!("{name} must be at least 1"));
            }
        }
        let initial = self
            .initial_backoff_ms
            .unwrap_or(IDEMPOTENT_RETRY.initial_backoff_ms);
        let max = self
            .max_backoff_ms
            .unwrap_or(IDEMPOTENT_RETRY.max_backoff_ms);
        (max < initial).then(|| {
            format!(
                "max_backoff_ms {max} is below initial_backoff_ms {initial} (an unset one is the default's: {} and {} ms)",
                IDEMPOTENT_RETRY.initial_backoff_ms, IDEMPOTENT_RETRY.max_backoff_ms
            )
        })
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
    /// At the include file's root, also emit `rpc_tests!`, a macro writing one
    /// over-the-wire test per RPC (`rpc_tests`).
    pub rpc_tests: bool,
    /// Emit each service's test harness (`test_server`, `TestServer`) in its stream module
    /// (`harness`, on by default); `harness=false` leaves it out of a production build.
    pub harness: bool,
    /// Proto paths whose `bytes` fields become `bytes::Bytes` (`bytes=<path>`, repeatable).
    pub bytes: Vec<String>,
    /// Proto packages or types whose code exists elsewhere, with its Rust path
    /// (`extern_path=.pkg=::crate_name::pkg`, repeatable), as prost-build's `extern_path`.
    pub extern_paths: Vec<(String, String)>,
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
            rpc_tests: false,
            harness: true,
            bytes: Vec::new(),
            extern_paths: Vec::new(),
            tuning: None,
            tuning_overrides: ServiceOptions::default(),
            method_defaults: MethodOptions::default(),
        }
    }
}

/// One parameter of [`Params::parse`]: its name, what it takes, and how it is set. Each
/// parameter is declared once, in [`parameters`].
#[derive(Clone, Copy)]
pub struct Parameter {
    /// The name (`buffer` in `buffer=8`).
    pub name: &'static str,
    /// What it takes, for messages and docs.
    pub takes: &'static str,
    /// What applies when it is not given, where the runtime or the generator has one value
    /// for it (`None`: see `takes`, or the tuning preset's).
    pub default: Option<OptionValue>,
    set: fn(&mut Params, Option<&str>) -> Result<(), String>,
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("name", &self.name)
            .field("takes", &self.takes)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// A `true|false` parameter; given without a value, it is `true`.
fn flag(name: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!(
            "parameter `{name}`: `{v}` is not `true` or `false`"
        )),
    }
}

/// The parameters that are not numeric settings.
const GENERAL: &[Parameter] = &[
    Parameter {
        name: "runtime_path",
        takes: "path of the runtime crate, default ::rust_stream",
        default: Some(OptionValue::Word("::rust_stream")),
        set: |params, value| {
            let v = need("runtime_path", value)?;
            check_runtime_path(v)?;
            params.runtime_path = v.to_owned();
            Ok(())
        },
    },
    Parameter {
        name: "stream_only",
        default: Some(OptionValue::Word("false")),
        takes: "true|false: emit only the stream layer",
        set: |params, value| {
            params.stream_only = flag("stream_only", value)?;
            Ok(())
        },
    },
    Parameter {
        name: "rpc_tests",
        default: Some(OptionValue::Word("false")),
        takes: "true|false: with include_file, emit `rpc_tests!`, one test per RPC",
        set: |params, value| {
            params.rpc_tests = flag("rpc_tests", value)?;
            Ok(())
        },
    },
    Parameter {
        name: "harness",
        default: Some(OptionValue::Word("true")),
        takes: "true|false: emit each service's test harness (`test_server`); false for a production build",
        set: |params, value| {
            params.harness = flag("harness", value)?;
            Ok(())
        },
    },
    Parameter {
        name: "include_file",
        default: None,
        takes: "file name of a file nesting all packages' modules",
        set: |params, value| {
            let v = need("include_file", value)?;
            check_include_file(v)?;
            params.include_file = Some(v.to_owned());
            Ok(())
        },
    },
    Parameter {
        name: "bytes",
        default: None,
        takes: "proto path whose bytes fields become Bytes (repeatable)",
        set: |params, value| {
            params.bytes.push(need("bytes", value)?.to_owned());
            Ok(())
        },
    },
    Parameter {
        name: "extern_path",
        default: None,
        takes: ".proto.path=::rust::path: code of that package or type exists (repeatable)",
        set: |params, value| {
            let v = need("extern_path", value)?;
            let (proto, rust) = v.split_once('=').ok_or_else(|| {
                format!("parameter `extern_path`: `{v}` is not `.proto.path=::rust::path`")
            })?;
            check_extern_path(proto, rust, &params.extern_paths)?;
            params
                .extern_paths
                .push((proto.to_owned(), rust.to_owned()));
            Ok(())
        },
    },
    Parameter {
        name: "tuning",
        takes: "balanced|low_latency|bulk_transfer",
        default: Some(OptionValue::Word("balanced")),
        set: |params, value| {
            let v = need("tuning", value)?;
            if !PRESETS.contains(&v) {
                return Err(format!(
                    "parameter `tuning`: unknown preset `{v}`; valid presets: {}",
                    PRESETS.join(", ")
                ));
            }
            params.tuning = Some(v.to_owned());
            Ok(())
        },
    },
];

/// Every parameter [`Params::parse`] accepts, in the order the docs list them.
pub fn parameters() -> impl Iterator<Item = &'static Parameter> {
    GENERAL
        .iter()
        .chain(ServiceOptions::PARAMETERS)
        .chain(MethodOptions::PARAMETERS)
}

/// The value of parameter `key`, which must not be empty.
fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("parameter `{key}` needs a value: `{key}=...`"))
}

/// A numeric parameter's value (`_` separates digits).
fn number<T: TryFrom<u64>>(key: &str, value: Option<&str>) -> Result<T, String> {
    let v = need(key, value)?;
    let n = v
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| format!("parameter `{key}`: `{v}` is not a non-negative integer"))?;
    T::try_from(n).map_err(|_| format!("parameter `{key}`: {n} is too large"))
}

/// `runtime_path=` takes a plain path of identifiers: `::a::b`, `a::b`, `crate::x`.
fn check_runtime_path(path: &str) -> Result<(), String> {
    if is_plain_path(path) {
        Ok(())
    } else {
        Err(format!(
            "parameter `runtime_path`: `{path}` is not a plain Rust path \
             (such as `::rust_stream`, `my_crate::rt` or `crate::rt`)"
        ))
    }
}

/// `true` for `::a::b`, `a::b`, `crate::a`, `super::super::a`, `self::a`: identifiers
/// joined by `::`, nothing else (no generics, spaces or empty segments).
fn is_plain_path(path: &str) -> bool {
    let absolute = path.strip_prefix("::");
    let segments = absolute.unwrap_or(path).split("::");
    let mut leading = absolute.is_none();
    let mut any = false;
    for segment in segments {
        any = true;
        let keyword_ok = leading
            && match segment {
                "crate" | "self" => {
                    leading = false;
                    true
                }
                "super" => true,
                _ => false,
            };
        if keyword_ok {
            // A path of only `crate`/`self`/`super` names a module, which is fine.
            continue;
        }
        leading = false;
        let is_ident = !segment.is_empty()
            && !segment.contains(char::is_whitespace)
            && syn::parse_str::<syn::Ident>(segment).is_ok();
        if !is_ident {
            return false;
        }
    }
    any
}

/// `include_file=` names a file inside the output directory.
fn check_include_file(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('/').collect();
    if name.starts_with('/') || name.contains('\\') || name.contains(':') || parts.contains(&"..") {
        return Err(format!(
            "parameter `include_file`: `{name}` must be a relative path inside the output directory"
        ));
    }
    if parts.iter().any(|p| p.is_empty() || *p == ".") {
        return Err(format!(
            "parameter `include_file`: `{name}` names a directory, not a file (such as `mod.rs`)"
        ));
    }
    Ok(())
}

/// `extern_path=` maps a fully qualified proto package or type to an absolute Rust path,
/// once, and not Google's well-known types (prost-types has them).
fn check_extern_path(proto: &str, rust: &str, taken: &[(String, String)]) -> Result<(), String> {
    let qualified = proto
        .strip_prefix('.')
        .is_some_and(|rest| rest.split('.').all(crate::ident::is_proto_identifier));
    if !qualified {
        return Err(format!(
            "parameter `extern_path`: `{proto}` is not a fully qualified proto path (`.package` or `.package.Message`)"
        ));
    }
    if proto == ".google" || proto == ".google.protobuf" || proto.starts_with(".google.protobuf.") {
        return Err(format!(
            "parameter `extern_path`: `{proto}`: Google's well-known types are always prost-types'"
        ));
    }
    if !rust.starts_with("::") || !is_plain_path(rust) {
        return Err(format!(
            "parameter `extern_path`: `{rust}` is not an absolute Rust path (`::crate_name::module`)"
        ));
    }
    if taken.iter().any(|(p, _)| p == proto) {
        return Err(format!(
            "parameter `extern_path`: `{proto}` is mapped twice"
        ));
    }
    Ok(())
}

impl Params {
    /// Parses protoc's parameter string (`k=v,k2=v2`, as given by `--rust-stream_opt` and
    /// `--rust-stream_out=k=v:DIR`). Every problem is reported, each naming the parameter;
    /// an unknown one is listed with the valid ones.
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
            Err(Error::new(
                DiagnosticKind::InvalidOption,
                problems.join("\n"),
            ))
        }
    }

    /// Sets one parameter by name, as [`Params::parse`] does.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        match parameters().find(|p| p.name == key) {
            Some(parameter) => (parameter.set)(self, value),
            None => {
                let valid: Vec<&str> = parameters().map(|p| p.name).collect();
                Err(format!(
                    "unknown parameter `{key}`; valid parameters: {}",
                    valid.join(", ")
                ))
            }
        }
    }

    /// Checks what the build API's setters may have set without [`Params::set`], and
    /// values that are only wrong in combination.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        problems.extend(check_runtime_path(&self.runtime_path).err());
        if let Some(include) = &self.include_file {
            problems.extend(check_include_file(include).err());
        }
        for (i, (proto, rust)) in self.extern_paths.iter().enumerate() {
            problems.extend(check_extern_path(proto, rust, &self.extern_paths[..i]).err());
        }
        if self.rpc_tests && !self.harness {
            problems.push(
                "parameter `rpc_tests` needs the test harness; it cannot be combined with `harness=false`"
                    .to_owned(),
            );
        }
        let tuning = ServiceOptions::default().tuning(self);
        problems.extend(check_tuning(&tuning).map(|problem| format!("parameters: {problem}")));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::new(
                DiagnosticKind::InvalidOption,
                problems.join("\n"),
            ))
        }
    }

    /// Where generated code finds Google's well-known types (prost-build's
    /// `prost_types_path`): the runtime's re-export, `<runtime_path>::codegen::prost_types`,
    /// so that a crate needs no `prost-types` of its own. With `stream_only`, `::prost_types`,
    /// as the other plugins' messages and tonic code name them; likewise for a runtime path
    /// relative to a module (`self::`, `super::`), which would mean something else in each
    /// module that names a type. A runtime path of a crate (`rust_stream`) gets its leading
    /// `::`, so that prost-build and tonic read it as absolute.
    pub fn well_known_types_path(&self) -> String {
        const PROST_TYPES: &str = "::prost_types";
        let runtime = self.runtime_path.as_str();
        let first = runtime.trim_start_matches("::").split("::").next();
        if self.stream_only || matches!(first, Some("self" | "super")) {
            PROST_TYPES.to_owned()
        } else if runtime.starts_with("::") || first == Some("crate") {
            format!("{runtime}::codegen::prost_types")
        } else {
            format!("::{runtime}::codegen::prost_types")
        }
    }

    /// The Rust path `extern_path=` gives the proto type `proto_name` (`.pkg.Msg`), as
    /// prost-build's `extern_path` resolves it; `None` if no mapping covers it.
    pub fn extern_path_of(&self, proto_name: &str) -> Option<String> {
        let mapped = |prefix: &str| {
            self.extern_paths
                .iter()
                .find(|(proto, _)| proto == prefix)
                .map(|(_, rust)| rust)
        };
        if let Some(rust) = mapped(proto_name) {
            return Some(rust.clone());
        }
        proto_name.rmatch_indices('.').find_map(|(index, _)| {
            let rust = mapped(&proto_name[..index])?;
            let mut rest = proto_name[index + 1..].split('.');
            let last = rest.next_back().map(crate::ident::to_upper_camel);
            let path: Vec<String> = rust
                .split("::")
                .map(crate::ident::to_snake)
                .chain(rest.map(crate::ident::to_snake))
                .chain(last)
                .collect();
            Some(path.join("::"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_types_are_the_runtimes_unless_stream_only() {
        for (params, expected) in [
            ("", "::rust_stream::codegen::prost_types"),
            ("runtime_path=::a::b", "::a::b::codegen::prost_types"),
            ("runtime_path=a::b", "::a::b::codegen::prost_types"),
            ("runtime_path=crate::rt", "crate::rt::codegen::prost_types"),
            ("runtime_path=super::rt", "::prost_types"),
            ("runtime_path=self::rt", "::prost_types"),
            ("stream_only", "::prost_types"),
            ("stream_only,runtime_path=::a", "::prost_types"),
        ] {
            let params = Params::parse(params).unwrap();
            assert_eq!(params.well_known_types_path(), expected, "{params:?}");
        }
    }

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
    fn compression_is_resolved_field_by_field_like_the_numbers() {
        let params = Params::parse("compression=gzip").unwrap();
        let defaults = params.method_defaults;
        assert_eq!(defaults.encoding(), Some(CompressionOption::Gzip));
        let method = |c: CompressionOption| MethodOptions {
            compression: Some(c as i32),
            ..MethodOptions::default()
        };
        // The method's own setting wins, `none` included; unset falls through.
        assert_eq!(
            method(CompressionOption::Zstd).or(defaults).encoding(),
            Some(CompressionOption::Zstd)
        );
        assert_eq!(
            method(CompressionOption::None).or(defaults).encoding(),
            None
        );
        assert_eq!(
            method(CompressionOption::Unspecified)
                .or(defaults)
                .encoding(),
            Some(CompressionOption::Gzip)
        );
        assert!(!method(CompressionOption::Gzip).is_default());
        let err = Params::parse("compression=brotli").unwrap_err().to_string();
        assert!(
            err.contains("unknown encoding `brotli`; valid encodings: none, gzip, zstd"),
            "{err}"
        );
    }

    #[test]
    fn plain_paths_and_file_names_are_accepted() {
        for path in [
            "::rust_stream",
            "my_crate::rt",
            "crate::rt",
            "crate",
            "super::super::rt",
            "self::rt",
            "r#type::rt",
        ] {
            assert!(
                Params::parse(&format!("runtime_path={path}")).is_ok(),
                "{path}"
            );
        }
        for path in [
            "a::<b>", "Vec<u8>", "::", "a::", "::crate", "a::crate", "_", "a b", "a-b",
        ] {
            assert!(
                Params::parse(&format!("runtime_path={path}")).is_err(),
                "{path}"
            );
        }
        for name in ["mod.rs", "all/mod.rs", "a.b/c.rs"] {
            assert!(
                Params::parse(&format!("include_file={name}")).is_ok(),
                "{name}"
            );
        }
        for name in [
            "sub/",
            ".",
            "..",
            "a/../b.rs",
            "/abs.rs",
            "a//b.rs",
            "a\\b.rs",
            "c:x.rs",
        ] {
            assert!(
                Params::parse(&format!("include_file={name}")).is_err(),
                "{name}"
            );
        }
    }

    /// The build API's setters bypass `set`; `check` (run before generating) catches them.
    #[test]
    fn check_validates_what_setters_bypassed() {
        let params = Params {
            runtime_path: "Vec<u8>".to_owned(),
            include_file: Some("sub/".to_owned()),
            extern_paths: vec![("deep".to_owned(), "::d".to_owned())],
            ..Params::default()
        };
        let text = params.check().unwrap_err().to_string();
        assert!(
            text.contains("`Vec<u8>` is not a plain Rust path"),
            "{text}"
        );
        assert!(text.contains("`sub/` names a directory"), "{text}");
        assert!(
            text.contains("`deep` is not a fully qualified proto path"),
            "{text}"
        );
    }

    #[test]
    fn extern_paths_resolve_as_prost_build_resolves_them() {
        let params = Params::parse(
            "extern_path=.deep=::deep_code,extern_path=.deep.sub=::sub_code,\
             extern_path=.other.Exact=::x::Renamed",
        )
        .unwrap();
        for (proto, rust) in [
            (".deep.Thing", Some("::deep_code::Thing")),
            (".deep.Thing.Inner", Some("::deep_code::thing::Inner")),
            (".deep.sub.Thing", Some("::sub_code::Thing")),
            (".deep.more.Thing", Some("::deep_code::more::Thing")),
            (".other.Exact", Some("::x::Renamed")),
            (".other.Exact.Inner", Some("::x::renamed::Inner")),
            (".other.Else", None),
            (".deeper.Thing", None),
        ] {
            assert_eq!(params.extern_path_of(proto).as_deref(), rust, "{proto}");
        }
    }

    /// The fields of `message` in `rust_stream/options.proto`: name and number.
    fn options_proto_fields(message: &str) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.proto"),
            "syntax = \"proto3\";\nimport \"rust_stream/options.proto\";\n",
        )
        .unwrap();
        let descriptors = crate::load::Descriptors::compile(&["x.proto"], &[dir.path()]).unwrap();
        let file = descriptors
            .files
            .iter()
            .find(|f| f.name() == crate::load::OPTIONS_PROTO_NAME)
            .unwrap();
        file.message_type
            .iter()
            .find(|m| m.name() == message)
            .unwrap()
            .field
            .iter()
            .map(|f| (f.name().to_owned(), f.number().to_string()))
            .collect()
    }

    /// The names and numbers of `declared`.
    fn declared_fields<S>(declared: &[Declared<S>]) -> Vec<(String, String)> {
        declared
            .iter()
            .map(|option| (option.name.to_owned(), option.tag.to_owned()))
            .collect()
    }

    /// Each option is declared once, in `declare_options!`; the proto message, the
    /// parameters and the option structs all come from or agree with that declaration. An
    /// option added to `options.proto` only, or declared without a parameter, fails here.
    #[test]
    fn every_declared_option_is_in_options_proto_and_the_parameters() {
        // `retry`, a message set as a whole, is read through its own view.
        let method: Vec<(String, String)> = options_proto_fields("MethodOptions")
            .into_iter()
            .filter(|(name, _)| name != "retry")
            .collect();
        assert_eq!(declared_fields(MethodOptions::OPTIONS), method);
        assert!(
            options_proto_fields("MethodOptions").contains(&("retry".to_owned(), "8".to_owned()))
        );
        let retry = options_proto_fields("RetryPolicy");
        let names: Vec<&str> = retry.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "max_attempts",
                "initial_backoff_ms",
                "max_backoff_ms",
                "backoff_multiplier",
                "retryable_codes"
            ]
        );
        // The service message also holds the preset (a parameter of its own) and the
        // methods' defaults (the method options above).
        let service: Vec<(String, String)> = options_proto_fields("ServiceOptions")
            .into_iter()
            .filter(|(name, _)| name != "tuning" && name != "methods")
            .collect();
        assert_eq!(declared_fields(ServiceOptions::OPTIONS), service);
        let parameters: Vec<&str> = parameters().map(|p| p.name).collect();
        let declared = MethodOptions::OPTIONS
            .iter()
            .map(|o| o.name)
            .chain(ServiceOptions::OPTIONS.iter().map(|o| o.name))
            .chain(["tuning"]);
        for name in declared {
            assert!(parameters.contains(&name), "no parameter `{name}`");
        }
    }

    /// A parameter sets the option of its name, and the option reads back what was given.
    #[test]
    fn each_option_parameter_sets_its_declared_field() {
        for option in MethodOptions::OPTIONS {
            let value = match option.default {
                Some(OptionValue::Word(_)) => "gzip",
                _ => "7",
            };
            let params = Params::parse(&format!("{}={value}", option.name)).unwrap();
            let set: Vec<_> = params.method_defaults.set_values().collect();
            assert_eq!(set.len(), 1, "{}", option.name);
            assert_eq!(set[0].0, option.name);
            assert_eq!(set[0].1.to_string(), value, "{}", option.name);
        }
        for option in ServiceOptions::OPTIONS {
            let params = Params::parse(&format!("{}=70000", option.name)).unwrap();
            let set: Vec<_> = params.tuning_overrides.set_values().collect();
            assert_eq!(set, [(option.name, OptionValue::Number(70_000))]);
        }
    }

    #[test]
    fn harness_is_on_unless_turned_off_and_rpc_tests_need_it() {
        assert!(Params::default().harness);
        assert!(Params::parse("harness").unwrap().harness);
        assert!(!Params::parse("harness=false").unwrap().harness);
        let err = Params::parse("harness=false,rpc_tests")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`rpc_tests` needs the test harness"), "{err}");
    }

    /// Every parameter is in the README's table, from the one list `parameters()`.
    #[test]
    fn every_parameter_is_documented_in_the_readme() {
        let readme = include_str!("../README.md");
        for parameter in parameters() {
            assert!(
                readme.contains(&format!("`{}", parameter.name)),
                "README lacks `{}`",
                parameter.name
            );
        }
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
