//! The process function: each SQS record is handled on its own, and only
//! the records that failed are reported back (`batchItemFailures`), so one
//! bad record neither fails nor repeats the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures_util::future::join_all;

use accueil_aws::config::{self, Ssm};
use accueil_aws::dynamodb::DynamoStore;
use accueil_aws::env;
use accueil_aws::job;
use accueil_aws::ses::SesMailer;
use accueil_aws::sqs::OnFirstUse;
use accueil_core::channels::Channel;
use accueil_core::outbound::ChannelApis;
use accueil_core::ports::{Job, SystemClock};
use accueil_core::process::Processor;

/// What the function reads from its environment.
pub struct Settings {
    pub table: String,
    /// Where an acknowledgement that failed for now waits for its next attempt.
    pub queue_url: String,
    /// The TOML itself, or `ssm:/path` to it.
    pub config: String,
}

impl Settings {
    pub fn from_env() -> Result<Settings, env::EnvError> {
        Ok(Settings {
            table: env::required(env::TABLE)?,
            queue_url: env::required(env::QUEUE_URL)?,
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
        queue: Arc::new(OnFirstUse::new(sdk, settings.queue_url)),
        clock: Arc::new(SystemClock),
    })
}

/// A record's id, and its job or why it has none.
type Record = (String, Result<Job, String>);

/// Handles a batch; the response lists the records SQS should deliver again.
/// Each channel's records are handled in turn, the channels side by side:
/// one whose API hangs holds up no other's acknowledgements.
pub async fn handle(processor: &Processor, event: SqsEvent) -> SqsBatchResponse {
    let mut by_channel: BTreeMap<Option<Channel>, Vec<Record>> = BTreeMap::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let job = match record.body.as_deref().map(job::decode) {
            Some(Ok(job)) => Ok(job),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the record has no body".to_string()),
        };
        let channel = job.as_ref().ok().map(Job::channel);
        by_channel.entry(channel).or_default().push((id, job));
    }
    let lanes = by_channel.into_values().map(|records| async move {
        let mut failed = Vec::new();
        for (id, job) in records {
            let outcome = match job {
                Ok(job) => processor
                    .handle(&job)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(error) = outcome {
                tracing::warn!(record = %id, %error, "record failed; SQS will deliver it again");
                failed.push(id);
            }
        }
        failed
    });
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
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
