//! The ingest function's composition: the same router as `accueil serve`,
//! over the SQS queue, its owner's pages over the DynamoDB table.

use std::sync::Arc;

use aws_config::SdkConfig;
use axum::Router;

use accueil_aws::config::{self, Ssm};
use accueil_aws::dynamodb::DynamoStore;
use accueil_aws::env;
use accueil_aws::sqs::SqsQueue;
use accueil_core::ingest;
use accueil_core::ports::SystemClock;

/// What the function reads from its environment.
pub struct Settings {
    pub queue_url: String,
    /// The owner's pages read threads and change them.
    pub table: String,
    /// The TOML itself, or `ssm:/path` to it.
    pub config: String,
}

impl Settings {
    pub fn from_env() -> Result<Settings, env::EnvError> {
        Ok(Settings {
            queue_url: env::required(env::QUEUE_URL)?,
            table: env::required(env::TABLE)?,
            config: env::required(env::CONFIG)?,
        })
    }
}

/// Builds the router once per cold start.
pub async fn router(sdk: &SdkConfig, settings: Settings) -> Result<Router, String> {
    let config = config::load(&settings.config, &Ssm::new(sdk))
        .await
        .map_err(|e| e.to_string())?;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), settings.queue_url);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table);
    Ok(ingest::router(
        Arc::new(config),
        Arc::new(queue),
        Arc::new(store),
        Arc::new(SystemClock),
    ))
}

/// Everything a cold start does before the first event: the environment,
/// the SDK configuration, the business configuration.
pub async fn from_environment() -> Result<Router, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let sdk = accueil_aws::lambda_sdk_config()
        .await
        .map_err(|e| e.to_string())?;
    router(&sdk, settings).await
}
