//! The queue on SQS: ingest sends, the process function receives batches
//! through its event source mapping.

use async_trait::async_trait;
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
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(encode(job)?)
                .send()
                .await
                .map_err(|e| QueueError(describe(&e)))?;
        }
        Ok(())
    }
}
