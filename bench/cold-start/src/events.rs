//! The events each function is benchmarked on, and how its answer to them
//! is told right.

use serde_json::{json, Value};

use accueil_core::channels::webform;
use accueil_core::domain::{
    Address, Channel, EmailAddress, Envelope, ProviderMessageId, ReplyTarget, Sender, ThreadId,
};
use accueil_core::ports::Job;

/// Open threads in the digest's table: a busy day's worth.
pub const DIGEST_THREADS: usize = 20;

fn http_event(path: &str, content_type: &str, body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": format!("POST {path}"), "rawPath": path, "rawQueryString": "",
        "headers": { "content-type": content_type, "accept": "application/json" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "requestId": "bench", "routeKey": format!("POST {path}"), "stage": "$default",
            "time": "24/Nov/2026:09:00:00 +0000", "timeEpoch": 1795510800000i64,
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "bench" }
        },
        "body": body, "isBase64Encoded": false
    })
}

pub fn form_event(run: usize) -> Value {
    http_event(
        "/webhooks/webform",
        "application/x-www-form-urlencoded",
        &format!("name=Bench&email=bench{run}%40example.com&message=Bonjour"),
    )
}

pub fn sqs_event(run: usize) -> Value {
    json!({ "Records": [sqs_record(format!("bench-{run}"))] })
}

/// One batch of `DIGEST_THREADS` new messages, each from its own customer.
pub fn digest_seed_event(run: usize) -> Value {
    let records: Vec<Value> = (0..DIGEST_THREADS)
        .map(|i| sqs_record(format!("seed-{run}-{i}")))
        .collect();
    json!({ "Records": records })
}

/// An SQS record of a new web form message from a customer never seen before.
fn sqs_record(message_id: String) -> Value {
    let reference = ThreadId::generate();
    let email = EmailAddress::parse(&format!(
        "customer.{}@example.com",
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap();
    let job = Job::Message(Envelope {
        channel: Channel::Webform,
        provider_id: ProviderMessageId::parse(reference.as_str()).unwrap(),
        sent_at: accueil_core::ports::Clock::now(&accueil_core::ports::SystemClock),
        sender: Sender::new(Some("Bench".into()), vec![Address::Email(email.clone())]).unwrap(),
        text: "Bonjour".into(),
        attachments: vec![],
        reply_to: ReplyTarget::Webform(webform::Target { email, reference }),
    });
    json!({
        "messageId": message_id, "receiptHandle": "h", "body": accueil_aws::sqs::encode(&job).unwrap(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:accueil", "awsRegion": "us-east-1"
    })
}

pub fn answered_200(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| v["statusCode"] == 200)
}

pub fn no_batch_failures(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| {
        v["batchItemFailures"]
            .as_array()
            .is_some_and(|f| f.is_empty())
    })
}

pub fn digest_sent(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| v["sent"].is_string())
}
