//! The AWS side of the bench: SDK clients pointed at the local AWS API
//! (moto's server, started by `scripts/test`), and fresh resources per test.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

pub const REGION: &str = "us-east-1";

/// The local AWS API's address. Its absence fails the test loudly: these
/// tests never skip.
pub fn endpoint() -> String {
    std::env::var("ACCUEIL_TEST_AWS_ENDPOINT").expect(
        "ACCUEIL_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local AWS API (moto)",
    )
}

pub async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(accueil_aws::https_client())
        .region(Region::new(REGION))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub async fn table(sdk: &SdkConfig) -> String {
    let name = unique("accueil");
    accueil_aws::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(sdk), &name)
        .await
        .expect("the table is created");
    name
}

pub async fn queue(sdk: &SdkConfig) -> String {
    aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(unique("accueil"))
        .send()
        .await
        .expect("the queue is created")
        .queue_url
        .expect("a queue URL")
}

/// SES sends only from verified identities.
pub async fn verify_sender(sdk: &SdkConfig, address: &str) {
    aws_sdk_ses::Client::new(sdk)
        .verify_email_identity()
        .email_address(address)
        .send()
        .await
        .expect("the identity is verified");
}

/// The raw emails the local SES accepted, from moto's inspection API.
pub async fn sent_emails() -> Vec<(String, String)> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m["destinations"].to_string(),
                m["raw_data"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
