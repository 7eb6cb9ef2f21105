//! The digest function: on each scheduled invocation, one email to the owner.

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};

use accueil_aws::config::{self, Ssm};
use accueil_aws::dynamodb::DynamoStore;
use accueil_aws::env;
use accueil_aws::ses::SesMailer;
use accueil_aws::sqs::SqsQueue;
use accueil_core::config::Config;
use accueil_core::digest;

pub struct DigestFunction {
    config: Config,
    store: DynamoStore,
    mailer: SesMailer,
    /// The dead-letter queue's URL and a client to read its depth; no
    /// client is built (and paid for at cold start) when there is none.
    dead_letter_queue: Option<(aws_sdk_sqs::Client, String)>,
}

/// What the function reads from its environment.
pub struct Settings {
    pub table: String,
    /// The TOML itself, or `ssm:/path` to it.
    pub config: String,
    pub dead_letter_queue: Option<String>,
    /// The HTTP API's URL, for the owner's links.
    pub public_url: Option<String>,
}

impl Settings {
    pub fn from_env() -> Result<Settings, env::EnvError> {
        Ok(Settings {
            table: env::required(env::TABLE)?,
            config: env::required(env::CONFIG)?,
            dead_letter_queue: env::optional(env::DEAD_LETTER_QUEUE_URL),
            public_url: env::optional(env::PUBLIC_URL),
        })
    }
}

impl DigestFunction {
    /// Builds the function once per cold start.
    pub async fn new(sdk: &SdkConfig, settings: Settings) -> Result<DigestFunction, String> {
        let mut config = config::load(&settings.config, &Ssm::new(sdk))
            .await
            .map_err(|e| e.to_string())?;
        if let Some(url) = &settings.public_url {
            config = config.serving_at(url);
        }
        Ok(DigestFunction {
            config,
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), settings.table),
            mailer: SesMailer::new(aws_sdk_ses::Client::new(sdk)),
            dead_letter_queue: settings
                .dead_letter_queue
                .map(|url| (aws_sdk_sqs::Client::new(sdk), url)),
        })
    }

    /// Sends the day's digest; returns SES's message id, or None on a day
    /// with nothing waiting when `[digest] when_empty = "skip"`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Option<String>, String> {
        // The digest still goes out if the dead-letter queue cannot be read.
        let dead_letters = match &self.dead_letter_queue {
            Some((sqs, url)) => SqsQueue::depth(sqs, url).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "dead-letter queue unreadable");
                0
            }),
            None => 0,
        };
        digest::send(&self.config, &self.store, &self.mailer, dead_letters, now)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Everything a cold start does before the first event: the environment,
/// the SDK configuration, the business configuration.
pub async fn from_environment() -> Result<DigestFunction, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let sdk = accueil_aws::lambda_sdk_config()
        .await
        .map_err(|e| e.to_string())?;
    DigestFunction::new(&sdk, settings).await
}
