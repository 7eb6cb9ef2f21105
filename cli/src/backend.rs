//! Where the inspecting commands read and write: the local SQLite file and
//! outbox, or, with `--aws`, the deployed DynamoDB table and SES.

use anyhow::{bail, Result};

use accueil_core::config::Config;
use accueil_core::delivery::Delivered;
use accueil_core::owner::Reply;
use accueil_core::ports::{Job, Mailer, Queue, Store};
use accueil_core::process::{Outcome, Processor};

use crate::local::Local;
use crate::Place;

pub struct Backend {
    pub config: Config,
    pub store: Box<dyn Store>,
    pub mailer: Box<dyn Mailer>,
    dead_letters: DeadLetters,
    replies: Replies,
}

/// Where the owner's replies go: locally, through a processor at once (a
/// retry, if one is needed, waits on the queue for `serve`); on AWS, onto
/// the queue the process function reads.
enum Replies {
    Local(Box<Processor>),
    #[cfg(feature = "aws")]
    Sqs(aws_sdk_sqs::Client, Option<String>),
}

enum DeadLetters {
    Local(accueil_embedded::Database),
    #[cfg(feature = "aws")]
    Sqs(aws_sdk_sqs::Client, Option<String>),
}

impl Backend {
    pub async fn open(place: &Place) -> Result<Backend> {
        if place.aws {
            return aws(place).await;
        }
        let local = Local::open(place)?;
        Ok(Backend {
            config: (*local.config).clone(),
            store: Box::new(local.database.clone()),
            mailer: Box::new(local.outbox.clone()),
            replies: Replies::Local(Box::new(local.processor(&local.database))),
            dead_letters: DeadLetters::Local(local.database),
        })
    }

    /// Sends the owner's reply on its way; what became of it, as the owner reads it.
    pub async fn send_reply(&self, reply: Reply) -> Result<String> {
        let thread = reply.thread_id.clone();
        match &self.replies {
            Replies::Local(processor) => match processor.handle(&Job::Reply(reply)).await? {
                Outcome::Replied(Some(Delivered::Sent(receipt))) => {
                    Ok(format!("{thread}: sent ({receipt})"))
                }
                Outcome::Replied(Some(Delivered::Failed(why))) => {
                    bail!("{thread}: not sent: {why}")
                }
                Outcome::Replied(Some(Delivered::Retrying(why))) => Ok(format!(
                    "{thread}: not sent yet ({why}); `accueil serve` tries again"
                )),
                Outcome::Replied(Some(Delivered::NotMine)) => {
                    Ok(format!("{thread}: already on its way"))
                }
                _ => bail!("{thread} no longer exists"),
            },
            #[cfg(feature = "aws")]
            Replies::Sqs(client, url) => {
                let Some(url) = url else {
                    bail!("replying on AWS needs the queue: set ACCUEIL_QUEUE_URL");
                };
                let queue = accueil_aws::sqs::SqsQueue::new(client.clone(), url.clone());
                queue.enqueue(&[Job::Reply(reply)]).await?;
                Ok(format!("{thread}: queued for the process function"))
            }
        }
    }

    /// Jobs that failed every retry: the local queue's dead rows, or the
    /// dead-letter queue's depth on AWS.
    pub async fn dead_letters(&self) -> Result<u64> {
        match &self.dead_letters {
            DeadLetters::Local(database) => Ok(database.queue_stats().await?.dead),
            #[cfg(feature = "aws")]
            DeadLetters::Sqs(client, Some(url)) => {
                Ok(accueil_aws::sqs::SqsQueue::depth(client, url).await?)
            }
            #[cfg(feature = "aws")]
            DeadLetters::Sqs(_, None) => Ok(0),
        }
    }
}

#[cfg(feature = "aws")]
async fn aws(place: &Place) -> Result<Backend> {
    use accueil_aws::{config, dynamodb::DynamoStore, env, ses::SesMailer};
    use anyhow::Context;

    let table = env::required(env::TABLE)?;
    let sdk = accueil_aws::sdk_config().await;
    let ssm = config::Ssm::new(&sdk);
    let config = match &place.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the configuration {}", path.display()))?;
            config::load(&text, &ssm).await?
        }
        None => config::load(&env::required(env::CONFIG)?, &ssm).await?,
    };
    Ok(Backend {
        config,
        store: Box::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table)),
        mailer: Box::new(SesMailer::new(aws_sdk_ses::Client::new(&sdk))),
        dead_letters: DeadLetters::Sqs(
            aws_sdk_sqs::Client::new(&sdk),
            env::optional(env::DEAD_LETTER_QUEUE_URL),
        ),
        replies: Replies::Sqs(
            aws_sdk_sqs::Client::new(&sdk),
            env::optional(env::QUEUE_URL),
        ),
    })
}

#[cfg(not(feature = "aws"))]
async fn aws(_place: &Place) -> Result<Backend> {
    bail!("this accueil was built without AWS support (cargo feature \"aws\")")
}

/// Commands that only make sense on one machine.
pub fn local_only(place: &Place, command: &str) -> Result<()> {
    if place.aws {
        bail!("`accueil {command}` runs locally; on AWS the Lambda functions do this work");
    }
    Ok(())
}
