// Structs, generic parameters and modules named like the items the derive declares beside
// them (its check's trait `Implemented`, function `implemented` and parameter `T`) compile:
// the derive's names step aside.
#![allow(non_camel_case_types, non_snake_case, dead_code)]

use rust_stream::StreamService;
use std::marker::PhantomData;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto")]
struct Implemented;

impl implemented_proto::streaming::streaming_examples_stream::StreamingExamplesHandler
    for Implemented
{
}

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto", module = "lower")]
struct implemented;

impl lower::streaming::streaming_examples_stream::StreamingExamplesHandler for implemented {}

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto")]
struct T;

impl t_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for T {}

mod beside {
    // A module named like the check's type parameter.
    #[derive(rust_stream::StreamService)]
    #[stream_service(proto = "../../../../proto/streaming.proto", module = "T")]
    pub struct InModuleT;

    impl T::streaming::streaming_examples_stream::StreamingExamplesHandler for InModuleT {}
}

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto", module = "Implemented_")]
struct Generic<Implemented: Send + Sync + 'static, implemented: Send + Sync + 'static>(
    PhantomData<(Implemented, implemented)>,
);

impl<A: Send + Sync + 'static, B: Send + Sync + 'static>
    Implemented_::streaming::streaming_examples_stream::StreamingExamplesHandler
    for Generic<A, B>
{
}

fn served<S: StreamService>() {}

fn main() {
    served::<Implemented>();
    served::<implemented>();
    served::<T>();
    served::<beside::InModuleT>();
    served::<Generic<u8, u16>>();
}
