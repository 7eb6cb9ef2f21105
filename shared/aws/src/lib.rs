//! Accueil on AWS: core's ports on DynamoDB, SQS, SES and SNS, and the
//! start-up pieces every Lambda function shares (SDK configuration,
//! environment, the business configuration from SSM).

pub mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod env;
pub mod job;
pub mod logging;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ssm::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use base64::Engine;

/// The SDK configuration from the standard AWS variables (`AWS_REGION`,
/// credentials, `AWS_ENDPOINT_URL`…), over `https_client`.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK configuration inside a Lambda function, where the runtime puts
/// the region and the role's credentials in the environment: only those are
/// read, so the profile-file and STS credential chain is neither linked nor
/// run at cold start. `AWS_ENDPOINT_URL` is honoured, as everywhere.
pub async fn lambda_sdk_config() -> Result<SdkConfig, env::EnvError> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_async::rt::sleep::TokioSleep;

    let region = env::required("AWS_REGION")?;
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https_client())
        .sleep_impl(TokioSleep::new())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .build(),
        );
    if let Some(url) = env::optional("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// One HTTPS client for every AWS SDK client: rustls on ring (the TLS stack
/// reqwest uses, so each binary links one) trusting Mozilla's roots, built
/// in. Loading the system's roots instead reads every file of
/// /etc/ssl/certs, which was most of a cold start.
pub fn https_client() -> SharedHttpClient {
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(cert.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("Mozilla's roots are valid certificates");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// An SDK error with its cause chain, for logs and error messages.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
