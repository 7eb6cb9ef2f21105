//! End to end on the AWS side, against the local AWS API: webhooks through
//! the ingest function onto SQS, SQS batches through the process function
//! into DynamoDB and out through SES or a channel's API, the digest function
//! to the owner.

use accueil_aws::dynamodb::DynamoStore;
use accueil_core::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use accueil_core::channels::{self, Channel, Sample};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::domain::AckState;
use accueil_core::ports::Store;
use accueil_e2e::{
    aws, channel_api, demo_text_with_api, sqs_record, whatsapp_text_now, Answer, StandIn,
    DEMO_APP_SECRET,
};
use aws_config::SdkConfig;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{json, Value};

const SENDER: &str = "bonjour@atelier-lune.example";
const OWNER: &str = "owner@atelier-lune.example";

struct Cloud {
    sdk: SdkConfig,
    table: String,
    queue_url: String,
    config: String,
}

/// The demo business, its WhatsApp acknowledgements sent to a local stand-in
/// for the Graph API (nothing here may reach the real one).
async fn demo_on_local_channel_api() -> (String, accueil_e2e::Recorded) {
    let (api, recorded) = channel_api().await;
    let config = accueil_core::config::DEMO.replace(
        "access_token = \"demo-access-token\"",
        &format!("access_token = \"demo-access-token\"\napi_base_url = \"{api}\""),
    );
    (config, recorded)
}

impl Cloud {
    async fn new() -> Cloud {
        Cloud::with_config(demo_on_local_channel_api().await.0).await
    }

    async fn with_config(config: String) -> Cloud {
        let sdk = aws::sdk().await;
        let table = aws::table(&sdk).await;
        let queue_url = aws::queue(&sdk).await;
        aws::verify_sender(&sdk, SENDER).await;
        Cloud {
            sdk,
            table,
            queue_url,
            config,
        }
    }

    /// One request through the ingest function, as API Gateway's HTTP API
    /// (payload format 2.0) hands it over.
    async fn ingest(&self, path: &str, headers: Value, body: &str) -> (u16, String) {
        let router = accueil_ingest::router(
            &self.sdk,
            accueil_ingest::Settings {
                queue_url: self.queue_url.clone(),
                table: self.table.clone(),
                config: self.config.clone(),
            },
        )
        .await
        .expect("ingest starts");
        aws::answer(router, aws::http_api_request(path, headers, body)).await
    }

    async fn ingest_whatsapp(&self, payload: &str) -> (u16, String) {
        let signature = MetaSignature::new(DEMO_APP_SECRET).sign(payload.as_bytes());
        self.ingest(
            "/webhooks/whatsapp",
            json!({ "content-type": "application/json", META_SIGNATURE_HEADER: signature }),
            payload,
        )
        .await
    }

    /// Takes what waits on the queue, as the event source mapping would,
    /// and shapes it as the SQS event the process function receives.
    async fn receive_batch(&self) -> Vec<Value> {
        let client = aws_sdk_sqs::Client::new(&self.sdk);
        let out = client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| sqs_record(m.message_id().unwrap(), m.body().unwrap()))
            .collect()
    }

    async fn process(&self, records: Vec<Value>) -> SqsBatchResponse {
        let processor = accueil_process::processor(
            &self.sdk,
            accueil_process::Settings {
                table: self.table.clone(),
                queue_url: self.queue_url.clone(),
                config: self.config.clone(),
            },
        )
        .await
        .expect("process starts");
        let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
        accueil_process::handle(&processor, event).await
    }

    fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.table.clone())
    }
}

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

async fn emails_to(address: &str) -> Vec<String> {
    aws::sent_emails()
        .await
        .into_iter()
        .filter(|(to, _)| to.contains(address))
        .map(|(_, raw)| raw)
        .collect()
}

#[tokio::test]
async fn a_form_goes_through_ingest_and_sqs_into_dynamodb_and_is_acknowledged_by_ses() {
    let cloud = Cloud::new().await;
    let customer = format!("{}@example.com", aws::unique("zoe"));
    let form = format!(
        "name=Zo%C3%A9&email={}&message=Un+g%C3%A2teau+pour+samedi+%3F",
        customer.replace('@', "%40")
    );
    let (status, page) = cloud
        .ingest(
            "/webhooks/webform",
            json!({ "content-type": "application/x-www-form-urlencoded" }),
            &form,
        )
        .await;
    assert_eq!(status, 200, "{page}");

    let batch = cloud.receive_batch().await;
    assert_eq!(batch.len(), 1, "the submission waits on SQS");
    let job = accueil_aws::sqs::decode(batch[0]["body"].as_str().unwrap()).unwrap();
    assert!(matches!(job, accueil_core::ports::Job::Message(_)));

    let response = cloud.process(batch).await;
    assert!(failures(&response).is_empty());
    let threads = cloud.store().threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].last_excerpt, "Un gâteau pour samedi ?");
    assert!(
        page.contains(threads[0].id.as_str()),
        "the page showed the thread's reference"
    );

    let sent = emails_to(&customer).await;
    assert_eq!(sent.len(), 1, "one acknowledgement through SES");
    assert!(
        sent[0].contains("Auto-Submitted: auto-replied"),
        "{}",
        sent[0]
    );
}

#[tokio::test]
async fn whatsapp_through_the_functions_is_acknowledged_once_on_the_channel_api() {
    let (config, recorded) = demo_on_local_channel_api().await;
    let cloud = Cloud::with_config(config).await;
    let payload = whatsapp_text_now("33600000301", "wamid.AWS1", "Bonjour depuis WhatsApp");
    assert_eq!(cloud.ingest_whatsapp(&payload).await.0, 200);
    // The provider delivers the same webhook twice.
    assert_eq!(cloud.ingest_whatsapp(&payload).await.0, 200);

    let batch = cloud.receive_batch().await;
    assert_eq!(batch.len(), 2);
    // SQS redelivers a record too: the first one again, in a batch of its own.
    let redelivered = vec![batch[0].clone()];
    assert!(failures(&cloud.process(batch).await).is_empty());
    assert!(failures(&cloud.process(redelivered).await).is_empty());

    let threads = cloud.store().threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    let full = cloud.store().thread(&threads[0].id).await.unwrap().unwrap();
    assert_eq!(full.messages.len(), 1, "one message however often it came");
    let sent = recorded.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one acknowledgement");
    assert_eq!(sent[0].0, "/100200300400500/messages");
    assert_eq!(sent[0].2["to"], "33600000301");
    assert_eq!(sent[0].2["context"]["message_id"], "wamid.AWS1");
}

#[tokio::test]
async fn every_channel_through_the_lambda_ingest_handler_reaches_dynamodb_and_is_acknowledged() {
    let (api, recorded) = channel_api().await;
    let cloud = Cloud::with_config(demo_text_with_api(&api)).await;
    let config = Config::parse(&cloud.config, &LocalSecrets).unwrap();
    let customer = format!("{}@example.com", aws::unique("all"));
    for &channel in Channel::ALL {
        let from = match channels::api(&config, channel) {
            Some(_) => channels::demo_sender(channel),
            // Acknowledged by SES: a fresh address, to find its email.
            None => customer.as_str(),
        };
        let sample = channels::sample(
            &config,
            channel,
            &Sample {
                from,
                text: "Bonjour de partout",
                name: None,
                id: Some("9001"),
                at: chrono::Utc::now(),
            },
        )
        .unwrap();
        let headers: serde_json::Map<String, Value> = sample
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let body = String::from_utf8(sample.body).unwrap();
        let (status, _) = cloud
            .ingest(sample.path, Value::Object(headers), &body)
            .await;
        assert_eq!(status, 200, "{channel}");
    }
    let mut records = Vec::new();
    while records.len() < Channel::ALL.len() {
        let batch = cloud.receive_batch().await;
        assert!(
            !batch.is_empty(),
            "{} of {} on the queue",
            records.len(),
            Channel::ALL.len()
        );
        records.extend(batch);
    }
    assert!(failures(&cloud.process(records).await).is_empty());

    let mut stored: Vec<Channel> = cloud
        .store()
        .threads()
        .await
        .unwrap()
        .iter()
        .map(|t| t.channel)
        .collect();
    stored.sort();
    assert_eq!(stored, Channel::ALL);
    // One acknowledgement per channel with an API, on the stand-in; the
    // requests themselves are checked in tests/channels.rs.
    let with_api = Channel::ALL
        .iter()
        .filter(|&&c| channels::api(&config, c).is_some())
        .count();
    assert_eq!(recorded.lock().unwrap().len(), with_api);
    assert_eq!(
        emails_to(&customer).await.len(),
        1,
        "the form's acknowledgement by SES"
    );
}

#[tokio::test]
async fn a_malformed_record_is_the_only_one_reported_failed() {
    let cloud = Cloud::new().await;
    for (i, text) in ["Premier", "Second"].iter().enumerate() {
        let payload =
            whatsapp_text_now(&format!("3360000040{i}"), &format!("wamid.BATCH{i}"), text);
        assert_eq!(cloud.ingest_whatsapp(&payload).await.0, 200);
    }
    let mut batch = cloud.receive_batch().await;
    assert_eq!(batch.len(), 2);
    let poison = sqs_record("poison-1", "{\"job\":\"message\",\"channel\":42}");
    batch.insert(1, poison);
    let response = cloud.process(batch).await;
    assert_eq!(failures(&response), vec!["poison-1".to_string()]);
    assert_eq!(
        cloud.store().threads().await.unwrap().len(),
        2,
        "the good records around it were processed"
    );
}

#[tokio::test]
async fn the_digest_function_emails_the_owner_through_ses() {
    let owner = format!("{}@example.com", aws::unique("owner"));
    let cloud =
        Cloud::with_config(demo_on_local_channel_api().await.0.replace(OWNER, &owner)).await;
    let payload = whatsapp_text_now(
        "33600000501",
        "wamid.DIGEST1",
        "Une question <b>urgente</b>",
    );
    cloud.ingest_whatsapp(&payload).await;
    let batch = cloud.receive_batch().await;
    cloud.process(batch).await;

    let dead_letters = aws::queue(&cloud.sdk).await;
    aws_sdk_sqs::Client::new(&cloud.sdk)
        .send_message()
        .queue_url(&dead_letters)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let function = accueil_digest::DigestFunction::new(
        &cloud.sdk,
        accueil_digest::Settings {
            public_url: None,
            table: cloud.table.clone(),
            config: cloud.config.clone(),
            dead_letter_queue: Some(dead_letters),
        },
    )
    .await
    .unwrap();
    let message_id = function.run(chrono::Utc::now()).await.unwrap();
    assert!(message_id.is_some_and(|id| !id.is_empty()));
    let sent = emails_to(&owner).await;
    assert_eq!(sent.len(), 1);
    let digest = sent[0].replace("=\r\n", "");
    assert!(digest.contains("WhatsApp"), "{digest}");
    assert!(
        digest.contains("&lt;b&gt;urgente&lt;/b&gt;")
            || digest.contains("&lt;b&gt;urgente&lt;&#x2f;b&gt;"),
        "customer text is escaped: {digest}"
    );
    assert!(
        digest.contains("1 message(s) n'ont pas pu"),
        "the dead letter is reported: {digest}"
    );
    assert!(cloud.store().last_digest_at().await.unwrap().is_some());
}

#[tokio::test]
async fn a_forged_signature_gets_401_and_nothing_reaches_sqs() {
    let cloud = Cloud::new().await;
    let payload = whatsapp_text_now("33600000601", "wamid.FORGED", "hello");
    let forged = MetaSignature::new("wrong").sign(payload.as_bytes());
    let (status, _) = cloud
        .ingest(
            "/webhooks/whatsapp",
            json!({ "content-type": "application/json", META_SIGNATURE_HEADER: forged }),
            &payload,
        )
        .await;
    assert_eq!(status, 401);
    assert!(cloud.receive_batch().await.is_empty());
}

#[tokio::test]
async fn ingest_answers_503_when_sqs_cannot_take_the_message_so_the_provider_retries() {
    let mut cloud = Cloud::new().await;
    cloud.queue_url = format!(
        "{}/123456789012/{}",
        aws::endpoint(),
        aws::unique("missing")
    );
    let (status, _) = cloud
        .ingest_whatsapp(&whatsapp_text_now("33600000701", "wamid.503", "hello"))
        .await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn the_configuration_and_its_secrets_can_live_in_ssm() {
    let sdk = aws::sdk().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let prefix = format!("/{}", aws::unique("accueil"));
    let secret = "secret-from-ssm";
    let config = demo_on_local_channel_api().await.0.replace(
        "\"demo-app-secret\"",
        &format!("\"ssm:{prefix}/app_secret\""),
    );
    for (name, value, kind) in [
        (
            "config",
            config.as_str(),
            aws_sdk_ssm::types::ParameterType::String,
        ),
        (
            "app_secret",
            secret,
            aws_sdk_ssm::types::ParameterType::SecureString,
        ),
    ] {
        ssm.put_parameter()
            .name(format!("{prefix}/{name}"))
            .value(value)
            .r#type(kind)
            .send()
            .await
            .unwrap();
    }
    let mut cloud = Cloud::new().await;
    cloud.config = format!("ssm:{prefix}/config");
    let payload = whatsapp_text_now("33600000801", "wamid.SSM", "hello");
    let signature = MetaSignature::new(secret).sign(payload.as_bytes());
    let (status, _) = cloud
        .ingest(
            "/webhooks/whatsapp",
            json!({ "content-type": "application/json", META_SIGNATURE_HEADER: signature }),
            &payload,
        )
        .await;
    assert_eq!(status, 200, "signed with the secret read from SSM");
    assert_eq!(
        cloud.ingest_whatsapp(&payload).await.0,
        401,
        "the demo's own secret no longer works"
    );

    let missing = accueil_aws::config::load(
        &format!("ssm:{prefix}/nothing"),
        &accueil_aws::config::Ssm::new(&sdk),
    )
    .await;
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains(&format!("{prefix}/nothing")));
}

#[test]
fn a_missing_environment_variable_is_named() {
    // The test process never sets these.
    let e = accueil_ingest::Settings::from_env()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("ACCUEIL_QUEUE_URL"), "{e}");
    let e = accueil_process::Settings::from_env()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("ACCUEIL_TABLE"), "{e}");
    let e = accueil_digest::Settings::from_env()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("ACCUEIL_TABLE"), "{e}");
}

#[tokio::test]
async fn an_acknowledgement_that_fails_for_now_waits_on_sqs_and_is_delivered_once() {
    let stand_in = StandIn::start().await;
    stand_in.answer(Answer::Fail(503));
    let cloud = Cloud::with_config(demo_text_with_api(&stand_in.base)).await;
    let payload = whatsapp_text_now("33600000311", "wamid.RETRY", "Vous livrez ?");
    assert_eq!(cloud.ingest_whatsapp(&payload).await.0, 200);
    assert!(failures(&cloud.process(cloud.receive_batch().await).await).is_empty());
    let thread = cloud.store().threads().await.unwrap()[0].id.clone();
    let acknowledgement = |cloud: &Cloud| {
        let (store, thread) = (cloud.store(), thread.clone());
        async move {
            let full = store.thread(&thread).await.unwrap().unwrap();
            full.messages[0].acknowledgement.clone().unwrap()
        }
    };
    let pending = acknowledgement(&cloud).await;
    assert_eq!((pending.state, pending.attempts), (AckState::Pending, 1));

    // The next attempt waits on SQS, delayed; the API is back meanwhile.
    stand_in.answer(Answer::Accept);
    let started = std::time::Instant::now();
    while stand_in.delivered() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never retried"
        );
        let batch = cloud.receive_batch().await;
        assert!(failures(&cloud.process(batch).await).is_empty());
    }
    let sent = acknowledgement(&cloud).await;
    assert_eq!((sent.state, sent.attempts), (AckState::Sent, 2));
    assert_eq!(sent.receipt.as_deref(), Some("wamid.SENT1"));
    // Nothing more waits, and it went out once.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(cloud.receive_batch().await.is_empty());
    assert_eq!(stand_in.delivered(), 1);
}
