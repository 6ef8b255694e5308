// A handler method with the wrong signature: rustc shows the one the trait expects.
use guide_proto::streaming::{UserRequest, UserResponse};
use rust_stream::CallContext;
use tonic::Status;

#[derive(rust_stream::StreamService)]
#[stream_service(proto = "../../../../proto/streaming.proto")]
struct Guide;

impl guide_proto::streaming::streaming_examples_stream::StreamingExamplesHandler for Guide {
    async fn get_user(&self, _ctx: CallContext, request: UserRequest) -> Result<String, Status> {
        Ok(request.id)
    }

    async fn list_events(&self, _ctx: CallContext) -> Result<(), Status> {
        Ok(())
    }
}

fn main() {
    let _ = UserResponse::default();
}
