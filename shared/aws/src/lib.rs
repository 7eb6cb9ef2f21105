//! Accueil on AWS: core's ports on DynamoDB, SQS, SES and SNS, and the
//! start-up pieces every Lambda function shares (SDK configuration,
//! environment, the business configuration from SSM).

pub mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod env;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The SDK configuration from the standard AWS variables (`AWS_REGION`,
/// credentials, `AWS_ENDPOINT_URL`…), over one HTTPS client: rustls on ring,
/// the same TLS stack reqwest uses, so each binary links one.
pub async fn sdk_config() -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
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
