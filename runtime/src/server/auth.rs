//! The async auth hook: one future per call, awaited before the call reaches its service.
//!
//! tonic's interceptors are synchronous and run once the request was decoded; this hook
//! runs on the request's headers alone, so a rejected call never starts its handler and
//! reads nothing of its body (the client learns at once and stops sending).

use crate::server::tls::PeerIdentity;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpConnectInfo;
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

type Hook = dyn Fn(AuthCall) -> BoxFuture<'static, Result<Identity, Denied>> + Send + Sync;

/// An async check every call passes before its service sees it: it gets the method, the
/// request metadata, the peer's address and its verified TLS certificate ([`AuthCall`]),
/// may await (a token lookup), and either admits the call with an [`Identity`] its handler
/// reads through [`CallContext::identity`](crate::CallContext::identity), or refuses it
/// with `UNAUTHENTICATED` or `PERMISSION_DENIED` ([`Denied`]).
///
/// Install it with [`TunedServer::auth`](crate::TunedServer::auth), or as a tower layer
/// (it is one) on any server. Under the tuned server it runs inside the call's clock and
/// span and outside every service, in all four streaming patterns alike.
///
/// ```
/// use rust_stream::{Auth, Denied, Identity};
///
/// struct User(String);
///
/// let auth = Auth::new(|call| async move {
///     match call.metadata().get("authorization").and_then(|v| v.to_str().ok()) {
///         Some("Bearer secret") => Ok(Identity::new(User("ada".into()))),
///         Some(_) => Err(Denied::permission_denied("unknown token")),
///         None => Err(Denied::unauthenticated("no token")),
///     }
/// })
/// .exempt_health_and_reflection();
/// ```
#[derive(Clone)]
pub struct Auth {
    hook: Arc<Hook>,
    /// Services (`pkg.Service`) and methods (`/pkg.Service/Method`) that skip the hook.
    exempt: Arc<Vec<String>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("exempt", &self.exempt)
            .finish_non_exhaustive()
    }
}

/// The services of `grpc.health.v1` and gRPC reflection (both versions), which load
/// balancers and tools call without credentials.
const HEALTH_AND_REFLECTION: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

impl Auth {
    /// A hook that runs `check` for every call not exempted.
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn(AuthCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Identity, Denied>> + Send + 'static,
    {
        Auth {
            hook: Arc::new(move |call| Box::pin(check(call))),
            exempt: Arc::new(Vec::new()),
        }
    }

    /// Lets calls of `target` through unchecked (and without an identity): a whole service
    /// by its full name (`grpc.health.v1.Health`), or one method by its path
    /// (`/grpc.health.v1.Health/Check`).
    pub fn exempt(mut self, target: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.exempt).push(target.into());
        self
    }

    /// Exempts the health service and reflection (v1 and v1alpha).
    pub fn exempt_health_and_reflection(self) -> Self {
        HEALTH_AND_REFLECTION
            .into_iter()
            .fold(self, |auth, service| auth.exempt(service))
    }

    fn is_exempt(&self, path: &str) -> bool {
        let service = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .map(|(service, _)| service);
        // A method is named by its path (leading `/`), a service by its bare full name.
        self.exempt
            .iter()
            .any(|target| match target.starts_with('/') {
                true => target == path,
                false => Some(target.as_str()) == service,
            })
    }
}

/// What the auth hook knows of a call: its headers and its connection. Nothing of the
/// body has been read.
#[derive(Debug)]
pub struct AuthCall {
    method: String,
    metadata: MetadataMap,
    remote_addr: Option<SocketAddr>,
    peer: Option<PeerIdentity>,
}

impl AuthCall {
    /// The full method path, for example `/streaming.StreamingExamples/ListEvents`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request metadata (`authorization` and the rest of the custom headers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The peer's socket address, when the transport knows it.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The client's verified certificate, on an mTLS connection.
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.peer.as_ref()
    }
}

/// Who the auth hook found the caller to be: any value, which the handler reads back by
/// its type with [`CallContext::identity`](crate::CallContext::identity).
#[derive(Clone)]
pub struct Identity(Option<Arc<dyn Any + Send + Sync>>);

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Identity(..)"
        } else {
            "Identity(anonymous)"
        })
    }
}

impl Identity {
    /// An identity holding `value` (a user, a service account, its scopes).
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Identity(Some(Arc::new(value)))
    }

    /// Admits the call without an identity.
    pub fn anonymous() -> Self {
        Identity(None)
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref()?.downcast_ref()
    }
}

/// Why the auth hook refused a call: the status its client gets, `UNAUTHENTICATED` or
/// `PERMISSION_DENIED` only.
#[derive(Clone, Debug)]
pub struct Denied(Status);

impl Denied {
    /// The caller did not prove who it is (no token, a bad one): `UNAUTHENTICATED`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Denied(Status::unauthenticated(message))
    }

    /// The caller is known but may not call this method: `PERMISSION_DENIED`.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Denied(Status::permission_denied(message))
    }

    /// The status the client gets.
    pub fn code(&self) -> Code {
        self.0.code()
    }
}

impl From<Denied> for Status {
    fn from(denied: Denied) -> Status {
        denied.0
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            crate::client::code_name(self.code()),
            self.0.message()
        )
    }
}

impl std::error::Error for Denied {}

/// The tower layer of an [`Auth`] hook (none: every call passes), for a server the runtime
/// does not run; [`TunedServer::auth`](crate::TunedServer::auth) installs it itself.
#[derive(Clone, Debug, Default)]
pub struct AuthLayer(Option<Auth>);

impl AuthLayer {
    /// The layer of `auth`, or one that lets every call pass.
    pub fn new(auth: Option<Auth>) -> Self {
        AuthLayer(auth)
    }
}

impl From<Auth> for AuthLayer {
    fn from(auth: Auth) -> Self {
        AuthLayer(Some(auth))
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            auth: self.0.clone(),
            inner,
        }
    }
}

/// The service [`AuthLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    auth: Option<Auth>,
    inner: S,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let auth = match &self.auth {
            Some(auth) if !auth.is_exempt(request.uri().path()) => auth,
            _ => return Box::pin(self.inner.call(request)),
        };
        let verdict = (auth.hook)(AuthCall::of(&request));
        // The ready service answers this call; its clone waits for the next one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            // A hook that panics refuses its call, as a handler's panic fails only its own.
            let verdict = AssertUnwindSafe(verdict).catch_unwind().await;
            match verdict {
                Ok(Ok(identity)) => {
                    request.extensions_mut().insert(identity);
                    inner.call(request).await
                }
                // The request, body unread, is dropped with this answer.
                Ok(Err(Denied(status))) => Ok(status.into_http()),
                Err(_panic) => Ok(Status::internal("the auth hook panicked").into_http()),
            }
        })
    }
}

impl AuthCall {
    fn of<B>(request: &http::Request<B>) -> Self {
        let extensions = request.extensions();
        AuthCall {
            method: request.uri().path().to_owned(),
            metadata: MetadataMap::from_headers(request.headers().clone()),
            remote_addr: extensions
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr),
            peer: extensions.get::<PeerIdentity>().cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions_match_a_whole_service_or_one_method() {
        let auth = Auth::new(|_| async { Ok(Identity::anonymous()) })
            .exempt_health_and_reflection()
            .exempt("/pkg.Svc/Open");
        assert!(auth.is_exempt("/grpc.health.v1.Health/Watch"));
        assert!(auth.is_exempt("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
        assert!(auth.is_exempt("/pkg.Svc/Open"));
        assert!(!auth.is_exempt("/pkg.Svc/Closed"));
        assert!(!auth.is_exempt("/grpc.health.v1.HealthX/Check"));
        assert!(!auth.is_exempt("grpc.health.v1.Health"));
    }

    #[test]
    fn an_identity_is_read_back_by_its_type() {
        let identity = Identity::new(String::from("ada"));
        assert_eq!(identity.get::<String>().map(String::as_str), Some("ada"));
        assert!(identity.get::<u32>().is_none());
        assert!(Identity::anonymous().get::<String>().is_none());
    }
}
