//! What [`Serve::with_tls`](super::Serve::with_tls) terminates TLS with: a certificate chain
//! and its key, read from PEM files or generated for local development, offering HTTP/2 and
//! HTTP/1.1 (ALPN).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::{Accept, TlsAcceptor};

/// The most plaintext a TLS session buffers before a write waits (rustls's default is
/// 64 KiB): a client that stops reading holds this much at most above its socket.
const SESSION_BUFFER_LIMIT: usize = 16 * 1024;

/// A certificate and key for [`Serve::with_tls`](super::Serve::with_tls). Clients are offered
/// HTTP/2 (`h2`) and HTTP/1.1 (`http/1.1`); TLS 1.2 and 1.3, with rustls's safe defaults.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    certificate_pem: String,
}

impl Tls {
    /// Reads the certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1)
    /// from PEM files, as a certificate authority such as Let's Encrypt issues them.
    ///
    /// # Errors
    ///
    /// When a file cannot be read, holds no certificate or no key, or the key does not match
    /// the certificate; the message names the file.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, TlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let certificate_pem = std::fs::read_to_string(cert).map_err(|err| {
            TlsError(format!(
                "TLS certificate file {}: cannot read it: {err}",
                cert.display()
            ))
        })?;
        let chain = CertificateDer::pem_slice_iter(certificate_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| TlsError(format!("TLS certificate file {}: {err}", cert.display())))?;
        if chain.is_empty() {
            return Err(TlsError(format!(
                "TLS certificate file {}: no certificate in it (expected PEM \
                 `-----BEGIN CERTIFICATE-----` blocks)",
                cert.display()
            )));
        }
        let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
            TlsError(format!(
                "TLS key file {}: no usable private key ({err}; expected PEM PKCS#8, PKCS#1 \
                 or SEC1)",
                key.display()
            ))
        })?;
        let config = server_config(chain, private_key).map_err(|err| {
            TlsError(format!(
                "TLS key file {} and certificate file {}: {err}",
                key.display(),
                cert.display()
            ))
        })?;
        Ok(Self {
            config,
            certificate_pem,
        })
    }

    /// A new self-signed certificate for `names` (host names or IP addresses, e.g.
    /// `["localhost", "127.0.0.1"]`), for local development and tests: browsers warn about it
    /// unless told to trust [`certificate_pem`](Self::certificate_pem).
    ///
    /// # Errors
    ///
    /// When a name is not a valid DNS name or IP address, or no name is given.
    pub fn self_signed(names: &[&str]) -> Result<Self, TlsError> {
        if names.is_empty() {
            return Err(TlsError(
                "a self-signed TLS certificate needs at least one name".to_owned(),
            ));
        }
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|err| TlsError(format!("cannot make a self-signed TLS certificate: {err}")))?;
        let certificate_pem = generated.cert.pem();
        let private_key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let config = server_config(vec![generated.cert.der().clone()], private_key)
            .map_err(|err| TlsError(format!("self-signed TLS certificate: {err}")))?;
        Ok(Self {
            config,
            certificate_pem,
        })
    }

    /// The certificate chain served, as PEM: for a client to trust a self-signed one.
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The server's side of the handshake on `tcp`.
    pub(super) fn accept(&self, tcp: TcpStream) -> Accept<TcpStream> {
        TlsAcceptor::from(Arc::clone(&self.config)).accept_with(tcp, |session| {
            session.set_buffer_limit(Some(SESSION_BUFFER_LIMIT));
        })
    }
}

/// Ring's provider, named rather than the process default: an application that links
/// another provider too would otherwise make rustls refuse to choose.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("alpn", &["h2", "http/1.1"])
            .finish_non_exhaustive()
    }
}

/// Why a [`Tls`] could not be made: the message names the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("realtime-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let generated = Tls::self_signed(&["localhost"]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = temp_file("cert.pem", generated.certificate_pem());
        let not_pem = temp_file("not.pem", "hello");
        let other_key = temp_file("other-key.pem", &other.signing_key.serialize_pem());
        let missing = std::env::temp_dir().join("realtime-tls-missing.pem");

        let err = Tls::from_pem_files(&missing, &other_key)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("certificate file") && err.contains("missing.pem"),
            "{err}"
        );
        let err = Tls::from_pem_files(&not_pem, &other_key)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no certificate") && err.contains("not.pem"),
            "{err}"
        );
        let err = Tls::from_pem_files(&cert, &not_pem)
            .unwrap_err()
            .to_string();
        assert!(err.contains("key file") && err.contains("not.pem"), "{err}");
        let err = Tls::from_pem_files(&cert, &other_key)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("other-key.pem") && err.contains("cert.pem"),
            "{err}"
        );

        let key = temp_file("key.pem", &other.signing_key.serialize_pem());
        let matching = temp_file("matching.pem", &other.cert.pem());
        let tls = Tls::from_pem_files(&matching, &key).unwrap();
        assert_eq!(tls.certificate_pem(), other.cert.pem());
        for path in [cert, not_pem, other_key, key, matching] {
            let _ = std::fs::remove_file(path);
        }
    }
}
