//! TLS for client connections (rustls with the ring provider).
//!
//! nats-server's order: INFO goes out in plain text (saying `tls_required`),
//! then the client starts the handshake. With `handshake_first` the handshake
//! comes first and INFO follows inside TLS; `handshake_first: <duration>`
//! waits that long for a ClientHello and falls back to the plain-INFO order.

use std::path::Path;
use std::sync::Arc;

use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{
    self, pki_types, server::WebPkiClientVerifier, RootCertStore, ServerConfig,
};

use crate::options::TlsOptions;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("error reading {file}: {why}")]
    Pem { file: String, why: String },
    #[error("{file}: no certificate found")]
    NoCert { file: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS client verification: {0}")]
    Verifier(String),
}

fn pem_err(file: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        file: file.display().to_string(),
        why: e.to_string(),
    }
}

fn certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let list = CertificateDer::pem_file_iter(file)
        .map_err(|e| pem_err(file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(file, e))?;
    if list.is_empty() {
        return Err(TlsError::NoCert {
            file: file.display().to_string(),
        });
    }
    Ok(list)
}

/// Build the acceptor for `opts`; errors name the file at fault.
pub fn acceptor(opts: &TlsOptions) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&opts.cert_file)?;
    let key =
        PrivateKeyDer::from_pem_file(&opts.key_file).map_err(|e| pem_err(&opts.key_file, e))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match (&opts.ca_file, opts.verify) {
        (Some(ca), true) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(ca)? {
                roots.add(cert)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
