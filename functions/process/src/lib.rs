//! The process function: each SQS record is handled on its own, and only
//! the records that failed are reported back (`batchItemFailures`), so one
//! bad record neither fails nor repeats the others.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use accueil_aws::config::{self, Ssm};
use accueil_aws::dynamodb::DynamoStore;
use accueil_aws::env;
use accueil_aws::job;
use accueil_aws::ses::SesMailer;
use accueil_core::outbound::ChannelApis;
use accueil_core::ports::SystemClock;
use accueil_core::process::Processor;

/// What the function reads from its environment.
pub struct Settings {
    pub table: String,
    /// The TOML itself, or `ssm:/path` to it.
    pub config: String,
}

impl Settings {
    pub fn from_env() -> Result<Settings, env::EnvError> {
        Ok(Settings {
            table: env::required(env::TABLE)?,
            config: env::required(env::CONFIG)?,
        })
    }
}

/// Builds the processor once per cold start.
pub async fn processor(sdk: &SdkConfig, settings: Settings) -> Result<Processor, String> {
    let table = settings.table;
    let config = Arc::new(
        config::load(&settings.config, &Ssm::new(sdk))
            .await
            .map_err(|e| e.to_string())?,
    );
    Ok(Processor {
        sender: Arc::new(ChannelApis::new(&config, None)),
        config,
        store: Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table)),
        mailer: Arc::new(SesMailer::new(aws_sdk_ses::Client::new(sdk))),
        clock: Arc::new(SystemClock),
    })
}

/// Handles a batch; the response lists the records SQS should deliver again.
pub async fn handle(processor: &Processor, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let outcome = match record.body.as_deref().map(job::decode) {
            Some(Ok(job)) => processor
                .handle(&job)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the record has no body".to_string()),
        };
        if let Err(error) = outcome {
            tracing::warn!(record = %id, %error, "record failed; SQS will deliver it again");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Everything a cold start does before the first event: the environment,
/// the SDK configuration, the business configuration.
pub async fn from_environment() -> Result<Processor, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let sdk = accueil_aws::lambda_sdk_config()
        .await
        .map_err(|e| e.to_string())?;
    processor(&sdk, settings).await
}
