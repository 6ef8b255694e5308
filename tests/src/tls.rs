//! Certificates made at test time (rcgen): a CA, and server and client certificates it
//! signs, valid or expired, as PEM text and files.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    date_time_ymd,
};
use rust_stream::{ClientTls, ServerTls};
use std::path::{Path, PathBuf};

/// A certificate authority that signs test certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, for whoever trusts it.
    pub pem: String,
}

/// A certificate and its private key, in PEM.
pub struct Leaf {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl Ca {
    /// A new CA called `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("the CA certificate");
        Ca {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    /// A certificate for the DNS `names`, valid now, for servers and clients alike.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.sign(names, |_| {})
    }

    /// A certificate for `names` that expired in 2001.
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.sign(names, |params| {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        })
    }

    fn sign(&self, names: &[&str], adjust: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        adjust(&mut params);
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("the leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client that trusts only this CA, verifying servers as `localhost`.
    pub fn client(&self) -> ClientTls {
        ClientTls::with_ca_pem(&self.pem).domain_name("localhost")
    }
}

impl Leaf {
    /// Server TLS with this certificate.
    pub fn server(&self) -> ServerTls {
        ServerTls::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("server TLS from the test certificate")
    }

    /// Writes `<stem>.pem` and `<stem>.key` into `dir`, and returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write the certificate");
        std::fs::write(&key, &self.key_pem).expect("write the key");
        (cert, key)
    }
}
