//! The queue on SQS: ingest sends, the process function receives batches
//! through its event source mapping.

use std::io::{Read, Write};

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use base64::Engine;
use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use accueil_core::ports::{Job, Queue, QueueError};

use crate::describe;

/// SQS refuses bodies over 256 KiB; larger jobs (a quarantined payload near
/// the 1 MiB webhook limit) travel gzipped, marked by this prefix, which a
/// JSON body can never start with.
const GZIP_PREFIX: &str = "gz:";
const PLAIN_LIMIT: usize = 200 * 1024;
const SQS_LIMIT: usize = 256 * 1024;

pub struct SqsQueue {
    client: Client,
    url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the record's body is not a job: {0}")]
    NotAJob(String),
}

/// The SQS body of a job.
pub fn encode(job: &Job) -> Result<String, QueueError> {
    let json = serde_json::to_string(job).expect("jobs serialize");
    if json.len() <= PLAIN_LIMIT {
        return Ok(json);
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(json.as_bytes()).expect("writing to memory");
    let zipped = gz.finish().expect("writing to memory");
    let body = format!(
        "{GZIP_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(zipped)
    );
    if body.len() > SQS_LIMIT {
        return Err(QueueError(format!(
            "a job of {} bytes is too large for SQS",
            json.len()
        )));
    }
    Ok(body)
}

pub fn decode(body: &str) -> Result<Job, DecodeError> {
    let json = match body.strip_prefix(GZIP_PREFIX) {
        None => body.to_string(),
        Some(b64) => {
            let zipped = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| DecodeError::NotAJob(e.to_string()))?;
            let mut json = String::new();
            GzDecoder::new(&zipped[..])
                .read_to_string(&mut json)
                .map_err(|e| DecodeError::NotAJob(e.to_string()))?;
            json
        }
    };
    serde_json::from_str(&json).map_err(|e| DecodeError::NotAJob(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use accueil_core::domain::{Channel, Quarantined};

    #[test]
    fn small_jobs_are_plain_json_and_large_ones_round_trip_gzipped() {
        let small = Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "x".into(),
            b"{}",
        ));
        assert!(encode(&small).unwrap().starts_with('{'));
        assert_eq!(decode(&encode(&small).unwrap()).unwrap(), small);

        let payload = format!("{{\"entry\":\"{}\"}}", "ab".repeat(400 * 1024));
        let large = Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "x".into(),
            payload.as_bytes(),
        ));
        let body = encode(&large).unwrap();
        assert!(body.starts_with(GZIP_PREFIX) && body.len() < SQS_LIMIT);
        assert_eq!(decode(&body).unwrap(), large);
    }

    #[test]
    fn a_body_that_is_not_a_job_is_an_error() {
        assert!(decode("{\"job\":\"nonsense\"}").is_err());
        assert!(decode("gz:!!!").is_err());
    }
}
