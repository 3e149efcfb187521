//! TLS, with rustls and ring (no cmake for aws-lc): the host's outbound
//! connections (a sink's database, a site's link to its center) trusting
//! the system's CA certificates or those of a `ca_file`, and the API's
//! HTTPS listener (`[api] tls_listen`).

use std::path::Path;
use std::sync::Arc;

/// A client configuration trusting `ca_file`'s certificates, or the
/// system's; the error names the file and what is wrong with it.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
            for cert in pem_certificates(&pem, path)? {
                roots.add(cert).map_err(|e| format!("ca_file {}: a certificate is unusable: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// ring's provider: rustls deprecated it for lacking post-quantum key
/// exchange, which links on the operator's network do not need yet.
#[allow(deprecated, reason = "ring's provider without post-quantum key exchange, chosen above")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration of the certificate chain in `cert_file` and the
/// key in `key_file` (PEM); the error names the file and the cause.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let pem =
        std::fs::read(cert_file).map_err(|e| format!("cannot read tls_cert_file {}: {e}", cert_file.display()))?;
    let chain = pem_certificates(&pem, cert_file)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("tls_key_file {}: no usable PEM private key: {e}", key_file.display()))?;
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls_cert_file {} and tls_key_file {}: {e}", cert_file.display(), key_file.display()))
}

/// The certificates of `pem`, the text of the file `path`.
fn pem_certificates(pem: &[u8], path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(format!("{} holds no PEM certificate", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
