//! Serves the corpus's `ed.implicit.Implicit` and `ed.explicit.Explicit` services on
//! 127.0.0.1 (a free port), prints `listening on ADDR`, and stops when stdin closes.

use editions_corpus::pb::ed::explicit::{self, explicit_stream};
use editions_corpus::pb::ed::implicit::{self, implicit_stream};
use rust_stream::{CallContext, RequestStream, ResponseSink};
use tonic::Status;

struct Server;

impl implicit_stream::ImplicitHandler for Server {
    async fn get(
        &self,
        _ctx: CallContext,
        request: implicit::Values,
    ) -> Result<implicit::Values, Status> {
        Ok(implicit::Values {
            plain: request.plain + 1,
            ..request
        })
    }

    async fn list(
        &self,
        _ctx: CallContext,
        request: implicit::Values,
        sink: ResponseSink<implicit::Values>,
    ) -> Result<(), Status> {
        for plain in 0..request.plain {
            sink.send(implicit::Values {
                plain,
                ..request.clone()
            })
            .await?;
        }
        Ok(())
    }

    async fn upload(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<implicit::Chunk>,
    ) -> Result<implicit::Ack, Status> {
        let mut received = 0;
        while let Some(chunk) = requests.message().await? {
            received += chunk.data.len() as u64;
        }
        Ok(implicit::Ack { received })
    }

    async fn chat(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<implicit::Values>,
        sink: ResponseSink<implicit::Values>,
    ) -> Result<(), Status> {
        while let Some(message) = requests.message().await? {
            sink.send(message).await?;
        }
        Ok(())
    }
}

impl explicit_stream::ExplicitHandler for Server {
    async fn get(
        &self,
        _ctx: CallContext,
        request: explicit::Record,
    ) -> Result<explicit::Record, Status> {
        Ok(request)
    }

    async fn watch(
        &self,
        _ctx: CallContext,
        request: explicit::Record,
        sink: ResponseSink<explicit::Node>,
    ) -> Result<(), Status> {
        for value in 0..request.id {
            let child = explicit::Node {
                value: Some(value),
                ..Default::default()
            };
            sink.send(explicit::Node {
                child: Some(Box::new(child)),
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    async fn upload(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<explicit::Chunk>,
    ) -> Result<explicit::Record, Status> {
        let mut total = 0;
        while let Some(chunk) = requests.message().await? {
            total += chunk.data.len();
        }
        Ok(explicit::Record {
            id: i32::try_from(total).map_err(|_| Status::out_of_range("too many bytes"))?,
            ..Default::default()
        })
    }

    async fn sync(
        &self,
        _ctx: CallContext,
        mut requests: RequestStream<explicit::Record>,
        sink: ResponseSink<explicit::Record>,
    ) -> Result<(), Status> {
        while let Some(record) = requests.message().await? {
            sink.send(record).await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Closing stdin is the signal to stop (the test's handle on this process).
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = stop.send(());
    });
    implicit_stream::server_builder()
        .add_service(implicit_stream::ImplicitService::new(Server).into_server())
        .add_service(explicit_stream::ExplicitService::new(Server).into_server())
        .serve_with_shutdown(
            listener,
            async {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(1),
        )
        .await?;
    Ok(())
}
