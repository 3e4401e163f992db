//! A private CA for https stand-ins on 127.0.0.1: a CA certificate, which a user would trust
//! through `SSL_CERT_FILE`, and a server certificate for 127.0.0.1 signed by it, in PEM files
//! (Azurite's `--cert`/`--key`) and as a rustls server configuration (the Entra ID stand-in).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Tls {
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM): what `SSL_CERT_FILE` names.
    pub ca_file: PathBuf,
    /// The server's certificate and private key (PEM).
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl Tls {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "maskflow test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        server.use_authority_key_identifier_extension = true;
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = server.signed_by(&key, &issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("server.pem");
        let key_file = dir.path().join("server-key.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Self {
            _dir: dir,
            ca_file,
            cert_file,
            key_file,
            server_config: Arc::new(server_config),
        }
    }

    /// One CA for the whole test process, which this process's own HTTP client (the Azurite
    /// helper's Shared Key requests) trusts too: `SSL_CERT_FILE` is set here, before that
    /// client is first built (it reads the variable once). The binaries the tests start get
    /// a cleared environment and are given `SSL_CERT_FILE` explicitly.
    pub fn trusted() -> &'static Tls {
        static TLS: OnceLock<Tls> = OnceLock::new();
        TLS.get_or_init(|| {
            let tls = Tls::new();
            // SAFETY: set once, under the OnceLock, before any HTTP client of this process is
            // built; Rust's own environment reads (std::env, Command) hold the same lock.
            unsafe { std::env::set_var("SSL_CERT_FILE", &tls.ca_file) };
            tls
        })
    }
}
