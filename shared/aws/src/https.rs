//! The one HTTPS client every AWS SDK client of a binary shares.

use aws_sdk_ssm::config::{HttpClient, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// The certificate authorities behind every AWS endpoint: Amazon Trust
/// Services' four roots and the Starfield root that cross-signs them
/// (<https://www.amazontrust.com/repository/>), as Mozilla ships them.
const AWS_ROOTS: &str = include_str!("aws-roots.pem");

/// rustls on ring (the TLS stack reqwest uses, so each binary links one),
/// trusting only AWS's roots, built in: the SDK decodes the trust store for
/// each TLS connector it builds, and Mozilla's 150 roots, or worse every file
/// of /etc/ssl/certs, were most of a cold start. These five are not.
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context with a trust store always builds");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    SharedHttpClient::new(ConnectorOnFirstRequest(client))
}

/// The SDK's client builds a throwaway TLS connector as each SDK client is
/// created, so that a broken system certificate store shows at start-up.
/// With the roots built in there is nothing to find out, and a function
/// creating three SDK clients paid for three connectors before its first
/// event; this builds the one it uses, at its first request.
#[derive(Debug)]
struct ConnectorOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectorOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    /// The embedded roots are the five AWS names, each byte for byte one of
    /// Mozilla's roots: no other root, none missing, none altered.
    #[test]
    fn aws_roots_are_amazon_trust_services_as_mozilla_ships_them() {
        let roots: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(super::AWS_ROOTS.as_bytes())
                .collect::<Result<_, _>>()
                .expect("aws-roots.pem is PEM");
        assert_eq!(roots.len(), 5);
        for (root, name) in roots.iter().zip([
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ]) {
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.contains(root),
                "{name} is not one of Mozilla's roots"
            );
            let der: &[u8] = root.as_ref();
            assert!(
                der.windows(name.len()).any(|w| w == name.as_bytes()),
                "the root in {name}'s place names someone else"
            );
        }
    }
}
