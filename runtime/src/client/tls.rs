//! TLS for the runtime's tuned channels: which servers to trust, and the client's own
//! certificate for mTLS.

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// A client's TLS settings, for [`Tuning::connect_tls`](crate::Tuning::connect_tls) and
/// [`Tuning::tls_endpoint`](crate::Tuning::tls_endpoint): the roots that verify the
/// server (the platform's, or given CAs) and, for mTLS, the client's certificate. HTTP/2
/// only (ALPN `h2`), with the ring provider.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rust_stream::{ClientTls, Tuning};
/// let tls = ClientTls::with_ca_pem(std::fs::read("ca.pem")?)
///     .identity(std::fs::read("client.pem")?, std::fs::read("client.key")?);
/// let channel = Tuning::BALANCED.connect_tls("https://localhost:50051", &tls).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: ClientTlsConfig,
    /// Whether [`domain_name`](Self::domain_name) chose the name to verify; a fleet
    /// otherwise verifies its target's host, not the replica's IP address.
    domain_named: bool,
}

impl ClientTls {
    /// Trusts the platform's root certificates (the system store, as
    /// `rustls-native-certs` reads it): for servers with a public certificate.
    pub fn native_roots() -> Self {
        ClientTls {
            config: ClientTlsConfig::new().with_native_roots(),
            domain_named: false,
        }
    }

    /// Trusts only the CA certificates in `ca_pem`: for servers with a private CA.
    pub fn with_ca_pem(ca_pem: impl AsRef<[u8]>) -> Self {
        ClientTls {
            config: ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem)),
            domain_named: false,
        }
    }

    /// Presents the certificate chain `cert_pem` (own certificate first) with its private
    /// key `key_pem` to servers that ask for one (mTLS).
    pub fn identity(self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        ClientTls {
            config: self.config.identity(Identity::from_pem(cert_pem, key_pem)),
            ..self
        }
    }

    /// Verifies the server's certificate for `name` instead of the URI's host (a server
    /// reached by IP address, or through a tunnel).
    pub fn domain_name(self, name: impl Into<String>) -> Self {
        ClientTls {
            config: self.config.domain_name(name),
            domain_named: true,
        }
    }

    /// tonic's form of these settings.
    pub(crate) fn config(&self) -> ClientTlsConfig {
        self.config.clone()
    }

    /// tonic's form of these settings, verifying `host` unless a name was chosen.
    pub(crate) fn config_for_host(&self, host: &str) -> ClientTlsConfig {
        match self.domain_named {
            true => self.config(),
            false => self.config().domain_name(host),
        }
    }
}
