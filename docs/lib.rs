//! The rust-stream guide, one module per page, so that every Rust block of the guide is
//! compiled and run by `cargo test -p rust-stream-docs --doc`. The pages are plain Markdown
//! files beside this one; read them on GitHub or here.
#![doc = include_str!("README.md")]

/// Guide pages, each included as the documentation of an empty module: what they hold is
/// their doctests.
macro_rules! pages {
    ($($module:ident = $file:literal;)*) => {
        $(
            #[doc = include_str!($file)]
            pub mod $module {}
        )*
    };
}

pages! {
    readme = "../README.md";
    getting_started = "getting-started.md";
    front_ends = "front-ends.md";
    generated_code = "generated-code.md";
    handlers = "handlers.md";
    guards = "guards.md";
    call_context = "call-context.md";
    tuning = "tuning.md";
    testing = "testing.md";
    serving = "serving.md";
    editions = "editions.md";
    interop = "interop.md";
    production = "production.md";
    metrics = "metrics.md";
    benchmarks = "benchmarks.md";
    development = "development.md";
}
