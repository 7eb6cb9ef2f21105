//! The test bench: Accueil's ingest router served on a loopback port over a
//! real SQLite file in a temporary folder, with a clock the test sets, and
//! a local HTTP server standing in for a channel's API.

pub mod aws;
pub mod browser;
pub mod conformance;
pub mod gate;
pub mod rig;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use accueil_core::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use accueil_core::channels::{self, Channel, Sample, SampleRequest};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::ingest;
use accueil_core::outbound::ChannelApis;
use accueil_core::ports::{ChannelSender, Clock};
use accueil_core::process::Processor;
use accueil_embedded::{worker, Database, Outbox};

/// The `accueil` binary cargo built beside this test.
pub fn accueil_binary() -> std::path::PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join("accueil");
    assert!(
        binary.exists(),
        "{} is missing: run the suite with scripts/test (cargo test --workspace)",
        binary.display()
    );
    binary
}

/// A clock the test moves by hand.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A local time in Paris as UTC.
pub fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Tuesday 24 November 2026, 10:00 in Paris: the demo shop is open.
pub fn open_hours() -> DateTime<Utc> {
    paris(2026, 11, 24, 10, 0)
}

/// Saturday 28 November 2026, 22:00 in Paris: closed until Monday.
pub fn saturday_night() -> DateTime<Utc> {
    paris(2026, 11, 28, 22, 0)
}

/// The demo configuration with some text replaced.
pub fn demo_config(replacements: &[(&str, &str)]) -> Config {
    let mut text = accueil_core::config::DEMO.to_string();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "the demo configuration has no {from:?}"
        );
        text = text.replace(from, to);
    }
    Config::parse(&text, &LocalSecrets).expect("test configuration is valid")
}

pub const DEMO_APP_SECRET: &str = "demo-app-secret";

/// Accueil on loopback: the HTTP server runs; the queue is drained when the
/// test says so, which lets it look between acceptance and processing.
pub struct Bench {
    pub dir: tempfile::TempDir,
    pub config: Arc<Config>,
    pub database: Database,
    pub outbox: Outbox,
    pub clock: Arc<TestClock>,
    pub base: String,
    processor: Arc<Processor>,
    server: tokio::task::JoinHandle<()>,
}

impl Bench {
    pub async fn start(config: Config, now: DateTime<Utc>) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        Bench::start_in(dir, config, now).await
    }

    /// Starts on an existing folder: a restart after a stop.
    pub async fn start_in(dir: tempfile::TempDir, config: Config, now: DateTime<Utc>) -> Bench {
        Bench::start_with_clock(dir, config, TestClock::at(now)).await
    }

    /// Starts on `dir` with a clock the caller moves.
    pub async fn start_with_clock(
        dir: tempfile::TempDir,
        config: Config,
        clock: Arc<TestClock>,
    ) -> Bench {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Arc::new(config.serving_at(&base));
        let database = Database::open(&dir.path().join("accueil.db"))
            .unwrap()
            .with_clock(clock.clone());
        let outbox = Outbox::new(dir.path().join("outbox")).unwrap();
        let fallback: Arc<dyn ChannelSender> = Arc::new(outbox.clone());
        let processor = Arc::new(Processor {
            config: config.clone(),
            store: Arc::new(database.clone()),
            mailer: Arc::new(outbox.clone()),
            sender: Arc::new(ChannelApis::new(&config, Some(fallback))),
            queue: Arc::new(database.clone()),
            clock: clock.clone(),
        });
        let app = ingest::router(
            config.clone(),
            Arc::new(database.clone()),
            Arc::new(database.clone()),
            clock.clone(),
        );
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Bench {
            dir,
            config,
            database,
            outbox,
            clock,
            base,
            processor,
            server,
        }
    }

    /// Stops the server as a killed process would: whatever is queued stays
    /// queued. Returns the folder for a restart.
    pub fn kill(self) -> tempfile::TempDir {
        self.server.abort();
        self.dir
    }

    /// Processes everything queued, as the worker would.
    /// The processor the worker runs, to run jobs as the test likes.
    pub fn processor(&self) -> Arc<Processor> {
        self.processor.clone()
    }

    /// Moves the clock forward: what was delayed until then is due.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.set(self.clock.now() + by);
    }

    pub async fn settle(&self) -> usize {
        worker::drain(&self.database, &self.processor)
            .await
            .unwrap()
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A webhook of the channel from the demo's sender, signed as its
    /// provider would, with this id and text, sent at `open_hours()`.
    pub fn sample(&self, channel: Channel, id: &str, text: &str) -> SampleRequest {
        channels::sample(
            &self.config,
            channel,
            &Sample {
                from: channels::demo_sender(channel),
                text,
                name: Some("Zoé"),
                id: Some(id),
                at: open_hours(),
            },
        )
        .unwrap()
    }

    /// Posts the sample as its provider would send it.
    pub async fn post_sample(&self, request: &SampleRequest) -> reqwest::Response {
        self.post_request(request, request.body.clone()).await
    }

    /// Posts the request's headers with `body` (its own, or an altered one).
    pub async fn post_request(&self, request: &SampleRequest, body: Vec<u8>) -> reqwest::Response {
        let (content_type, headers): (Vec<_>, Vec<_>) = request
            .headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .partition(|(k, _)| *k == "content-type");
        self.post(request.path, content_type[0].1, &headers, body)
            .await
    }

    /// Posts a WhatsApp webhook signed with the demo's app secret.
    pub async fn post_whatsapp(&self, body: &str) -> reqwest::Response {
        let signature = MetaSignature::new(DEMO_APP_SECRET).sign(body.as_bytes());
        self.post(
            "/webhooks/whatsapp",
            "application/json",
            &[(META_SIGNATURE_HEADER, &signature)],
            body.to_string(),
        )
        .await
    }

    pub async fn post_form(&self, form: &str) -> reqwest::Response {
        self.post(
            "/webhooks/webform",
            "application/x-www-form-urlencoded",
            &[],
            form.to_string(),
        )
        .await
    }

    /// The outbox's files, oldest first, as (name, content).
    pub fn outbox_files(&self) -> Vec<(String, String)> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.outbox.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect()
    }
}

/// A WhatsApp Cloud API text message from a phone number, as Meta sends it.
pub fn whatsapp_text(from_digits: &str, id: &str, text: &str) -> String {
    whatsapp_text_sent(
        from_digits,
        id,
        text,
        Utc.timestamp_opt(1795900000, 0).unwrap(),
    )
}

/// The same, sent just now: what the functions on the system's clock take,
/// WhatsApp's reply window counting from the stamp.
pub fn whatsapp_text_now(from_digits: &str, id: &str, text: &str) -> String {
    whatsapp_text_sent(from_digits, id, text, Utc::now())
}

/// The same, stamped by WhatsApp as sent at `sent` (whole seconds).
pub fn whatsapp_text_sent(from_digits: &str, id: &str, text: &str, sent: DateTime<Utc>) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1000", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550001111", "phone_number_id": "100200300400500" },
            "contacts": [{ "profile": { "name": "Zoé Martin" }, "wa_id": from_digits }],
            "messages": [{ "from": from_digits, "id": id, "timestamp": sent.timestamp().to_string(), "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string()
}

/// One record of an SQS event, as the event source mapping hands it to the
/// process function.
pub fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id, "receiptHandle": "handle", "body": body,
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:accueil",
        "awsRegion": "us-east-1"
    })
}

/// What a stand-in channel API was sent: path, Authorization header, JSON body.
pub type Recorded = Arc<Mutex<Vec<(String, String, Value)>>>;

/// How the stand-in for the channels' APIs answers; a test switches it
/// while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// As the provider does when it takes the message.
    Accept,
    /// This status, with an error body.
    Fail(u16),
    /// Never: the connection stays open until the sender gives up.
    Hang,
}

/// A local HTTP server standing in for every channel's API (the Graph
/// API, Instagram's, Telegram's Bot API): records each request it accepts
/// and answers as they do, with the receipt each channel reads.
pub struct StandIn {
    pub base: String,
    /// The requests it accepted: the acknowledgements delivered.
    pub delivered: Recorded,
    /// Every request it received, accepted or not.
    pub attempts: Arc<AtomicUsize>,
    pub answer: Arc<Mutex<Answer>>,
}

impl StandIn {
    pub async fn start() -> StandIn {
        StandIn::on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// The stand-in, answering on `listener`.
    pub fn on(listener: tokio::net::TcpListener) -> StandIn {
        #[derive(Clone)]
        struct Shared {
            delivered: Recorded,
            attempts: Arc<AtomicUsize>,
            answer: Arc<Mutex<Answer>>,
        }
        async fn answer(
            State(shared): State<Shared>,
            Path(path): Path<String>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            shared.attempts.fetch_add(1, Ordering::SeqCst);
            let answer = *shared.answer.lock().unwrap();
            match answer {
                Answer::Accept => {}
                Answer::Fail(status) => {
                    let status = axum::http::StatusCode::from_u16(status).unwrap();
                    let error = json!({ "error": { "message": "stand-in failure", "code": status.as_u16() } });
                    return (status, Json(error)).into_response();
                }
                Answer::Hang => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                }
            }
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            shared
                .delivered
                .lock()
                .unwrap()
                .push((format!("/{path}"), auth, body));
            Json(json!({
                // WhatsApp's Cloud API
                "messaging_product": "whatsapp", "messages": [{ "id": "wamid.SENT1" }],
                // Messenger's and Instagram's Send API
                "recipient_id": "1", "message_id": "m_SENT1",
                // Telegram's Bot API
                "ok": true, "result": { "message_id": 86 },
            }))
            .into_response()
        }
        let shared = Shared {
            delivered: Arc::default(),
            attempts: Arc::default(),
            answer: Arc::new(Mutex::new(Answer::Accept)),
        };
        let app = Router::new()
            .route("/{*path}", post(answer))
            .with_state(shared.clone());
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StandIn {
            base,
            delivered: shared.delivered,
            attempts: shared.attempts,
            answer: shared.answer,
        }
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn delivered(&self) -> usize {
        self.delivered.lock().unwrap().len()
    }
}

/// A port where an API will answer, refusing connections until then: a
/// socket bound but not listening.
pub struct Closed {
    socket: tokio::net::TcpSocket,
    pub base: String,
}

impl Closed {
    pub fn bind() -> Closed {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let base = format!("http://{}", socket.local_addr().unwrap());
        Closed { socket, base }
    }

    /// The API comes up on the port.
    pub fn open(self) -> StandIn {
        StandIn::on(self.socket.listen(1024).unwrap())
    }
}

/// The stand-in, always accepting: its base URL and what it received.
pub async fn channel_api() -> (String, Recorded) {
    let stand_in = StandIn::start().await;
    (stand_in.base, stand_in.delivered)
}

/// The demo configuration's text with every channel that has an API sending
/// to `api` (a stand-in: nothing here may reach a real provider).
pub fn demo_text_with_api(api: &str) -> String {
    let demo = Config::demo();
    let mut text = accueil_core::config::DEMO.to_string();
    for &channel in Channel::ALL {
        if channels::api(&demo, channel).is_some() {
            let header = format!("[channels.{channel}]");
            assert!(text.contains(&header), "the demo has no {header}");
            text = text.replace(&header, &format!("{header}\napi_base_url = \"{api}\""));
        }
    }
    text
}
