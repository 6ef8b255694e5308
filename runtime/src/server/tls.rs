//! TLS for the runtime's server (rustls, ring provider): certificates that reload without a
//! restart, optional client certificates (mTLS), and the verified peer a handler reads.
//!
//! The handshake runs in each connection's own task, inside the server's handshake timeout
//! (see [`TunedRouter`](crate::TunedRouter)), so a client that stalls mid-handshake holds
//! one task and one descriptor until then, never the accept loop.

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// A server's TLS settings: its certificate chain and key, reloadable while it serves, and
/// whether clients must present a certificate (mTLS).
///
/// Cloning shares the certificate: [`reload`](Self::reload) on any clone changes what every
/// new connection of every server using it is offered; open connections keep theirs.
/// Only HTTP/2 is offered (ALPN `h2`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = rust_stream::ServerTls::from_pem_files("cert.pem", "key.pem")?
///     .require_client_certs(&std::fs::read("clients-ca.pem")?)?;
/// let reloader = tls.clone();
/// // ... later, after the files were renewed:
/// reloader.reload_pem_files("cert.pem", "key.pem")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    keys: Arc<Reloadable>,
    config: Arc<ServerConfig>,
    /// Whether clients must present a certificate.
    mtls: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("mtls", &self.mtls)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// TLS with `chain` (end-entity certificate first) and its private `key`; no client
    /// certificates asked for.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let keys = Arc::new(Reloadable(RwLock::new(certified(chain, key)?)));
        let config = server_config(&keys, None)?;
        Ok(ServerTls {
            keys,
            config,
            mtls: false,
        })
    }

    /// As [`new`](Self::new), from PEM text: a chain of `CERTIFICATE` blocks and one
    /// private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let (chain, key) = parse_pem(chain, key)?;
        Self::new(chain, key)
    }

    /// As [`from_pem`](Self::from_pem), reading the two files.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (chain, key) = read_pem_files(chain.as_ref(), key.as_ref())?;
        Self::from_pem(&chain, &key)
    }

    /// Requires every client to present a certificate issued by one of the CAs in
    /// `ca_pem` (mTLS); a client without one, or with another, fails its handshake. The
    /// verified certificate reaches handlers as
    /// [`CallContext::peer_identity`](crate::CallContext::peer_identity).
    pub fn require_client_certs(self, ca_pem: &[u8]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in parse_certs(ca_pem, "client CA")? {
            roots
                .add(ca)
                .map_err(|e| TlsError::new("a client CA certificate is invalid", e))?;
        }
        let config = server_config(&self.keys, Some(roots))?;
        Ok(ServerTls {
            keys: self.keys,
            config,
            mtls: true,
        })
    }

    /// Replaces the certificate chain and key: every connection accepted from now on gets
    /// the new ones. On error the old ones stay.
    pub fn reload(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), TlsError> {
        let keys = certified(chain, key)?;
        *self
            .keys
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = keys;
        Ok(())
    }

    /// As [`reload`](Self::reload), from two PEM files (see [`from_pem`](Self::from_pem)).
    pub fn reload_pem_files(
        &self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), TlsError> {
        let (chain, key) = read_pem_files(chain.as_ref(), key.as_ref())?;
        let (chain, key) = parse_pem(&chain, &key)?;
        self.reload(chain, key)
    }

    /// The acceptor for one new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

/// The crypto the server's TLS uses, whatever provider the process installed: ring, as
/// tonic's `tls-ring` client (aws-lc-rs would need cmake and nasm to build).
fn provider() -> Arc<CryptoProvider> {
    static RING: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    // Deprecated only for lacking post-quantum key exchange, which ring does not offer.
    #[allow(deprecated)]
    let ring = RING.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()));
    Arc::clone(ring)
}

fn server_config(
    keys: &Arc<Reloadable>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new("the crypto provider offers no TLS version", e))?;
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::new("the client CAs cannot verify clients", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::clone(keys) as Arc<dyn ResolvesServerCert>);
    // gRPC is HTTP/2 only: a client that offers ALPN without h2 is refused in the handshake.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    if chain.is_empty() {
        return Err(TlsError::msg("the certificate chain is empty"));
    }
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| TlsError::new("the key does not fit the certificate", e))
}

/// The certificate new connections are offered; swapped by [`ServerTls::reload`].
#[derive(Debug)]
struct Reloadable(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        ))
    }
}

fn read_pem_files(chain: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| TlsError::new(format!("cannot read {}", path.display()), e))
    };
    Ok((read(chain)?, read(key)?))
}

fn parse_pem(
    chain: &[u8],
    key: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = parse_certs(chain, "certificate chain")?;
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| TlsError::new("no private key in the key PEM", e))?;
    Ok((chain, key))
}

/// Every `CERTIFICATE` block of `pem`; at least one.
pub(crate) fn parse_certs(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(format!("the {what} PEM is malformed"), e))?;
    if certs.is_empty() {
        return Err(TlsError::msg(format!("no certificate in the {what} PEM")));
    }
    Ok(certs)
}

/// The client of a TLS connection, as its certificate proved it (mTLS): read it in a
/// handler with [`CallContext::peer_identity`](crate::CallContext::peer_identity).
///
/// Only certificates the server verified against its client CAs get here. Cloning is
/// cheap (one `Arc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    inner: Arc<PeerInner>,
}

#[derive(Debug, PartialEq, Eq)]
struct PeerInner {
    chain: Vec<CertificateDer<'static>>,
    dns_names: Vec<String>,
}

impl PeerIdentity {
    /// The identity a verified `chain` (end-entity certificate first) proves; `None` for an
    /// empty chain.
    pub(crate) fn from_chain(chain: &[CertificateDer<'static>]) -> Option<Self> {
        let leaf = chain.first()?;
        let dns_names = webpki::EndEntityCert::try_from(leaf)
            .map(|cert| cert.valid_dns_names().map(str::to_owned).collect())
            .unwrap_or_default();
        Some(PeerIdentity {
            inner: Arc::new(PeerInner {
                chain: chain.to_vec(),
                dns_names,
            }),
        })
    }

    /// The certificate chain the client presented, its own certificate first (DER).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.inner.chain
    }

    /// The client's own certificate (DER), for a parser of your choice.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.inner.chain[0]
    }

    /// The DNS names of the certificate's subject alternative names (wildcards included as
    /// written): the names to authorise a client by.
    pub fn dns_names(&self) -> &[String] {
        &self.inner.dns_names
    }
}

/// Why TLS settings could not be loaded: an unreadable file, malformed PEM, a key that
/// does not fit its certificate, an unusable CA.
#[derive(Debug)]
pub struct TlsError {
    what: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TlsError {
    fn new(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TlsError {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }

    fn msg(what: impl Into<String>) -> Self {
        TlsError {
            what: what.into(),
            source: None,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
