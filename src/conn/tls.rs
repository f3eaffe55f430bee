//! TLS for PostgreSQL connections with rustls, following libpq's sslmode
//! semantics: `prefer`/`require` encrypt without checking the certificate
//! (unless a root CA file is given, which makes `require` act like
//! `verify-ca`), `verify-ca` checks the chain, `verify-full` also the host
//! name. tokio-postgres itself only knows disable/prefer/require; the
//! checking is done here by the certificate verifier we hand it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::resolve::SslMode;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verification {
    /// Encrypted, certificate not checked.
    None,
    /// Chain checked against the root CAs, host name not.
    Ca,
    /// Chain and host name checked.
    Full,
}

/// Where the root CAs come from for checking modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    System,
}

/// What the resolved settings mean for TLS.
pub fn verification(
    mode: SslMode,
    sslrootcert: Option<&Path>,
    default_root: Option<&Path>,
) -> (Verification, Option<Roots>) {
    let roots = match sslrootcert {
        Some(p) if p == Path::new("system") => Some(Roots::System),
        Some(p) => Some(Roots::File(p.to_path_buf())),
        None => default_root.map(|p| Roots::File(p.to_path_buf())),
    };
    match mode {
        SslMode::VerifyFull => (Verification::Full, Some(roots.unwrap_or(Roots::System))),
        SslMode::VerifyCa => (Verification::Ca, Some(roots.unwrap_or(Roots::System))),
        // libpq: with a root CA file present, require verifies the chain.
        SslMode::Require if roots.is_some() => (Verification::Ca, roots),
        _ => (Verification::None, None),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_roots(roots: &Roots) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "cannot read the root certificate file {} (sslrootcert / PGSSLROOTCERT)",
                    path.display()
                )
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert
                    .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
                store.add(cert).with_context(|| {
                    format!("{} holds a certificate rustls cannot use", path.display())
                })?;
            }
            if store.is_empty() {
                bail!(
                    "no certificate found in the root certificate file {}",
                    path.display()
                );
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                bail!(
                    "no system root certificates found: pass the server's CA with sslrootcert=/path/ca.crt"
                );
            }
        }
    }
    Ok(store)
}

/// The connector every connection (single or pooled) uses. With
/// `sslmode=disable` tokio-postgres never calls it.
pub fn connector(verify: Verification, roots: Option<&Roots>) -> Result<MakeRustlsConnect> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, roots) {
        (Verification::None, _) | (_, None) => Arc::new(NoVerification(provider)),
        (v, Some(roots)) => {
            let store = Arc::new(load_roots(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider)
                .build()
                .context("cannot set up TLS certificate checking")?;
            if v == Verification::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `sslmode=prefer`/`require`: encryption without authentication of the
/// server, as libpq does. Handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the name in
/// the certificate need not match the host we dialled.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn libpq_verification_levels() {
        let ca = Path::new("/etc/ca.crt");
        assert_eq!(
            verification(SslMode::Prefer, None, None),
            (Verification::None, None)
        );
        assert_eq!(
            verification(SslMode::Require, None, None),
            (Verification::None, None)
        );
        assert_eq!(
            verification(SslMode::Require, Some(ca), None),
            (Verification::Ca, Some(Roots::File(ca.into())))
        );
        assert_eq!(
            verification(SslMode::Require, None, Some(ca)),
            (Verification::Ca, Some(Roots::File(ca.into())))
        );
        assert_eq!(
            verification(SslMode::VerifyCa, None, None),
            (Verification::Ca, Some(Roots::System))
        );
        assert_eq!(
            verification(SslMode::VerifyFull, Some(Path::new("system")), Some(ca)),
            (Verification::Full, Some(Roots::System))
        );
    }

    #[test]
    fn unreadable_or_empty_root_file_is_a_clear_error() {
        let e = connector(
            Verification::Full,
            Some(&Roots::File("/nonexistent/ca.crt".into())),
        )
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
        assert!(
            e.contains("/nonexistent/ca.crt") && e.contains("sslrootcert"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = connector(Verification::Ca, Some(&Roots::File(empty.clone())))
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.contains("no certificate found"), "{e}");
    }
}
