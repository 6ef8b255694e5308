//! Replicas and round robin: a tuned connection to every address the resolver gives,
//! re-resolution on a timer and after failures, and the pick of the next connected replica
//! for each attempt. STUB: the fleet work fills this in.

use super::retry::{Attempt, Attempts};
use super::{FleetError, Resolve};
use crate::client::ClientTls;
use crate::tuning::Tuning;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tonic::body::Body;

/// What the balancer needs from the [`Fleet`](super::Fleet).
pub(crate) struct Config {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) tuning: Tuning,
    pub(crate) re_resolve_every: Duration,
    pub(crate) authority: String,
}

/// The replicas of one fleet; clones share them.
#[derive(Clone, Debug)]
pub(crate) struct Balanced {}

impl Balanced {
    pub(crate) async fn connect(config: Config) -> Result<Balanced, FleetError> {
        let _ = config;
        Ok(Balanced {})
    }

    pub(crate) fn connect_lazy(config: Config) -> Balanced {
        let _ = config;
        Balanced {}
    }

    pub(crate) fn replicas(&self) -> Vec<(SocketAddr, bool)> {
        Vec::new()
    }
}

impl Attempts for Balanced {
    fn attempt(
        &self,
        request: http::Request<Body>,
        avoid: Option<SocketAddr>,
    ) -> impl std::future::Future<Output = Attempt> + Send + 'static {
        let _ = (request, avoid);
        async move {
            Attempt {
                replica: None,
                result: Err(Box::new(super::classify::NotSent("no replica".into())) as _),
            }
        }
    }
}
