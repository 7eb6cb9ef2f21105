//! The store and queue conformance suites, on SQLite and on DynamoDB.

use accueil_aws::dynamodb::DynamoStore;
use accueil_aws::sqs::{self, SqsQueue};
use accueil_core::domain::{Channel, Quarantined};
use accueil_core::ports::{Job, Queue};
use accueil_e2e::{aws, conformance, whatsapp_text_now};
use accueil_embedded::Database;

#[tokio::test]
async fn the_store_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::open(&dir.path().join("accueil.db")).unwrap();
    conformance::store(&database).await;
}

#[tokio::test]
async fn the_store_on_dynamodb() {
    let sdk = aws::sdk().await;
    let table = aws::table(&sdk).await;
    conformance::store(&DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
    ))
    .await;
}

fn jobs() -> Vec<Job> {
    let payload = whatsapp_text_now("33600000201", "wamid.Q", "Bonjour");
    let parsed =
        accueil_core::channels::whatsapp::payload::parse(payload.as_bytes(), chrono::Utc::now())
            .unwrap();
    let large = format!("{{\"pad\":\"{}\"}}", "x".repeat(600 * 1024));
    vec![
        Job::Message(parsed.envelopes[0].clone()),
        Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "unreadable".into(),
            b"%PDF",
        )),
        // Near the webhook size limit: more than SQS takes as is.
        Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "unreadable".into(),
            large.as_bytes(),
        )),
    ]
}

/// What every queue must do: keep every job whole until it is taken.
async fn queue_conformance<F, Fut>(queue: &dyn Queue, mut receive_all: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<Job>>,
{
    let sent = jobs();
    queue.enqueue(&sent).await.unwrap();
    queue.enqueue(&[]).await.unwrap();
    let mut received = receive_all().await;
    let key = |j: &Job| serde_json::to_string(j).unwrap();
    received.sort_by_key(key);
    let mut expected = sent.clone();
    expected.sort_by_key(key);
    assert_eq!(received, expected);
}

#[tokio::test]
async fn the_queue_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::open(&dir.path().join("accueil.db")).unwrap();
    queue_conformance(&database, || async {
        let mut jobs = Vec::new();
        while let Some(claimed) = database
            .claim(chrono::Utc::now(), chrono::Duration::seconds(60))
            .await
            .unwrap()
        {
            jobs.push(claimed.job.unwrap());
            database.complete(&[claimed.id]).await.unwrap();
        }
        jobs
    })
    .await;
}

#[tokio::test]
async fn the_queue_on_sqs() {
    let sdk = aws::sdk().await;
    let url = aws::queue(&sdk).await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let queue = SqsQueue::new(client.clone(), url.clone());
    queue_conformance(&queue, || async {
        let mut jobs = Vec::new();
        loop {
            let out = client
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                jobs.push(sqs::decode(m.body.as_deref().unwrap()).unwrap());
                client
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        jobs
    })
    .await;
}
