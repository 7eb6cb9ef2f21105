//! The queue on SQS: ingest sends, the process function receives batches
//! through its event source mapping.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;

use accueil_core::ports::{Job, Queue, QueueError};

use crate::describe;
pub use crate::job::{decode, encode, DecodeError};

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// Sends one job; with no delay, the queue's own applies.
    async fn send(&self, job: &Job, delay_seconds: Option<i32>) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(encode(job)?)
            .set_delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| QueueError(describe(&e)))?;
        Ok(())
    }

    /// How many messages wait in a queue (the dead-letter queue, for the digest).
    pub async fn depth(client: &Client, url: &str) -> Result<u64, QueueError> {
        let out = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| QueueError(describe(&e)))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError> {
        for job in jobs {
            self.send(job, None).await?;
        }
        Ok(())
    }

    async fn enqueue_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        // Whole seconds, rounded up, at most SQS's 15 minutes.
        let seconds = delay.as_secs_f64().ceil().min(900.0) as i32;
        self.send(job, Some(seconds)).await
    }
}

/// The queue as the process function uses it: only to retry an
/// acknowledgement, which most invocations never do; so its client is made
/// on first use, and a cold start pays nothing for it.
pub struct OnFirstUse {
    sdk: SdkConfig,
    url: String,
    queue: OnceLock<SqsQueue>,
}

impl OnFirstUse {
    pub fn new(sdk: &SdkConfig, url: impl Into<String>) -> OnFirstUse {
        OnFirstUse {
            sdk: sdk.clone(),
            url: url.into(),
            queue: OnceLock::new(),
        }
    }

    fn queue(&self) -> &SqsQueue {
        self.queue
            .get_or_init(|| SqsQueue::new(Client::new(&self.sdk), self.url.clone()))
    }
}

#[async_trait]
impl Queue for OnFirstUse {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError> {
        self.queue().enqueue(jobs).await
    }

    async fn enqueue_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        self.queue().enqueue_later(job, delay).await
    }
}
