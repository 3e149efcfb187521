//! TLS of the host's outbound connections (a sink's database, a site's
//! link to its center): rustls with ring (no cmake for aws-lc) and the
//! system's CA certificates, or those of a `ca_file`.

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
    // ring, not aws-lc-rs (which needs cmake and a long C build); rustls
    // deprecated ring's provider for lacking post-quantum key exchange,
    // which a link on the operator's network does not need yet.
    #[allow(deprecated, reason = "ring's provider without post-quantum key exchange, chosen above")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The certificates of `pem`, the text of the file `path`.
fn pem_certificates(pem: &[u8], path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(format!("ca_file {} holds no PEM certificate", path.display())),
        Err(e) => Err(format!("ca_file {}: {e}", path.display())),
    }
}
