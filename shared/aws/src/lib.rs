//! Accueil on AWS: core's ports on DynamoDB, SQS and SES, and the
//! start-up pieces every Lambda function shares (SDK configuration,
//! environment, the business configuration from SSM).

pub mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod env;
mod https;
pub mod job;
pub mod logging;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sqs")]
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};

pub use https::https_client;

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
