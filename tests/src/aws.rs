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
    // moto builds the page from live data: busy, it can answer with an
    // error page, which another try does not.
    let mut tries = 0;
    let data: serde_json::Value = loop {
        let page = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
            .await
            .unwrap();
        match page.json().await {
            Ok(data) => break data,
            Err(_) if tries < 10 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("moto's data.json: {e}"),
        }
    };
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

/// A request as API Gateway's HTTP API (payload format 2.0) hands it to the
/// ingest function.
pub fn http_api_request(
    path: &str,
    headers: serde_json::Value,
    body: &str,
) -> lambda_http::Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("POST {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "req-1", "routeKey": format!("POST {path}"),
            "stage": "$default", "time": "24/Nov/2026:09:00:00 +0000", "timeEpoch": 1795510800000i64,
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "facebookexternalua" }
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

/// The function's answer to one request: status and body.
pub async fn answer(router: axum::Router, request: lambda_http::Request) -> (u16, String) {
    use tower::ServiceExt;
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
