//! The fault matrix's bench: one Accueil on either backend, with a switch
//! for each fault. Locally, the ingest router on loopback over a SQLite
//! file, its queue run as the worker runs it; on AWS, the ingest and
//! process functions against the local AWS API through a `Gate`, SQS with
//! the template's redrive policy. Every channel's API has a stand-in of its
//! own, and the clock is the test's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use accueil_aws::dynamodb::DynamoStore;
use accueil_core::channels::{self, Channel, Sample};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::domain::Acknowledgement;
use accueil_core::email::OutgoingEmail;
use accueil_core::outbound::ChannelApis;
use accueil_core::ports::{Clock, Mailer, SendError, Store};
use accueil_core::process::Processor;
use accueil_embedded::{worker, Outbox};

use crate::gate::{Fault, Gate, Service};
use crate::{aws, sqs_record, Bench, Closed, StandIn, TestClock};

/// The template's `maxReceiveCount`; the SQLite queue's `MAX_ATTEMPTS`.
pub const REDRIVE_LIMIT: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Aws,
}

impl Backend {
    pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Aws];
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Aws => "DynamoDB/SQS",
        })
    }
}

/// What can go wrong with the acknowledgements sent by email: locally the
/// outbox folder, on AWS SES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFault {
    /// The outbox folder cannot be written (a full or removed disk); SES
    /// throttles.
    Unavailable,
    /// SES refuses the message; the outbox never refuses.
    Rejected,
    /// The write or the request never finishes.
    Hang,
}

pub struct Rig {
    pub backend: Backend,
    pub config: Arc<Config>,
    pub clock: Arc<TestClock>,
    apis: BTreeMap<Channel, StandIn>,
    /// The channel whose API refuses connections for now, and its port.
    closed: Option<(Channel, Closed)>,
    /// In every address this rig makes up: tests on AWS share one SES.
    tag: String,
    side: Side,
}

// A rig holds one, for the whole test: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Side {
    Local(Local),
    Cloud(Cloud),
}

/// Customer `n`'s address on the channel, in a rig tagged `tag`.
pub fn customer(tag: &str, channel: Channel, n: u32) -> String {
    let demo = channels::demo_sender(channel);
    if demo.contains('@') {
        return format!("{tag}.c{n}@example.com");
    }
    let digits: String = demo.chars().filter(char::is_ascii_digit).collect();
    let prefix = if demo.starts_with('+') { "+" } else { "" };
    format!("{prefix}{}{n:04}", &digits[..digits.len() - 4])
}

/// The business for the matrix: the demo's, each channel's API on its own
/// stand-in (but `refusing`'s, whose port refuses connections for now), no
/// rate limit in the way, retries at most a second apart (on SQS their
/// delay is real time; the clock still decides when to give up).
pub async fn matrix_config(
    tag: &str,
    refusing: Option<Channel>,
) -> (String, BTreeMap<Channel, StandIn>, Option<Closed>) {
    let demo = Config::demo();
    let mut text = accueil_core::config::DEMO
        .replace("rate_limit_per_minute = 5", "rate_limit_per_minute = 10000")
        .replace("[ack]", "[ack]\nretry_max_delay = \"1s\"")
        .replace(
            "owner@atelier-lune.example",
            &format!("{tag}.owner@example.com"),
        );
    let mut apis = BTreeMap::new();
    let mut closed = None;
    for &channel in Channel::ALL {
        if channels::api(&demo, channel).is_none() {
            continue;
        }
        let base = if Some(channel) == refusing {
            let port = Closed::bind();
            let base = port.base.clone();
            closed = Some(port);
            base
        } else {
            let stand_in = StandIn::start().await;
            let base = stand_in.base.clone();
            apis.insert(channel, stand_in);
            base
        };
        let header = format!("[channels.{channel}]");
        text = text.replace(&header, &format!("{header}\napi_base_url = \"{base}\""));
    }
    (text, apis, closed)
}

impl Rig {
    pub async fn start(backend: Backend) -> Rig {
        Rig::start_refusing(backend, None).await
    }

    /// A rig whose `refusing` channel's API refuses connections until `open_api`.
    pub async fn start_refusing(backend: Backend, refusing: Option<Channel>) -> Rig {
        let tag = aws::unique("rig");
        let (text, apis, closed) = matrix_config(&tag, refusing).await;
        let config = Arc::new(Config::parse(&text, &LocalSecrets).expect("a valid configuration"));
        let clock = TestClock::at(Utc::now());
        let side = match backend {
            Backend::Sqlite => Side::Local(Local::start(&config, &clock, None).await),
            Backend::Aws => Side::Cloud(Cloud::start(&text, &clock).await),
        };
        Rig {
            backend,
            config,
            clock,
            apis,
            closed: closed.map(|port| (refusing.unwrap(), port)),
            tag,
            side,
        }
    }

    /// The refusing channel's API comes up.
    pub fn open_api(&mut self) {
        let (channel, port) = self.closed.take().expect("a channel refusing connections");
        self.apis.insert(channel, port.open());
    }

    /// The channel's stand-in API, to make it fail.
    pub fn api(&self, channel: Channel) -> &StandIn {
        &self.apis[&channel]
    }

    /// Whether the channel's acknowledgements go through an API (else by email).
    pub fn has_api(&self, channel: Channel) -> bool {
        self.apis.contains_key(&channel) || self.refuses(channel)
    }

    /// The channels whose acknowledgements go through an API, in the registry's order.
    pub fn channels_with_api(&self) -> Vec<Channel> {
        Channel::ALL
            .iter()
            .copied()
            .filter(|&c| self.has_api(c))
            .collect()
    }

    fn refuses(&self, channel: Channel) -> bool {
        self.closed.as_ref().is_some_and(|(c, _)| *c == channel)
    }

    /// Customer `n`'s address on the channel: one per customer, so that
    /// each message is owed an acknowledgement of its own.
    pub fn customer(&self, channel: Channel, n: u32) -> String {
        customer(&self.tag, channel, n)
    }

    /// Customer `n`'s webhook (their message `n`), as its provider sends it.
    pub async fn post(&self, channel: Channel, n: u32) -> u16 {
        let from = self.customer(channel, n);
        let id = (10_000 + n).to_string();
        let sample = channels::sample(
            &self.config,
            channel,
            &Sample {
                from: &from,
                text: "Bonjour, une question",
                name: Some("Zoé"),
                id: Some(&id),
                at: self.clock.now(),
            },
        )
        .unwrap();
        match &self.side {
            Side::Local(local) => local.bench.post_sample(&sample).await.status().as_u16(),
            Side::Cloud(cloud) => cloud.ingest(&sample).await,
        }
    }

    /// Customer `n` writes on every channel; the statuses.
    pub async fn post_everywhere(&self, n: u32) -> Vec<u16> {
        let mut statuses = Vec::new();
        for &channel in Channel::ALL {
            statuses.push(self.post(channel, n).await);
        }
        statuses
    }

    /// Handles every job due now, as the worker or SQS's event source
    /// would, each channel in turn; the jobs that failed and will be tried
    /// again (on AWS: once their visibility timeout runs out, which here is
    /// at the end of the round).
    pub async fn run_due(&self) -> usize {
        match &self.side {
            Side::Local(local) => local.run_due().await,
            Side::Cloud(cloud) => cloud.run_due().await,
        }
    }

    /// Runs the queue in the background, the channels side by side, as
    /// `accueil serve`'s worker and concurrent Lambda invocations do.
    pub fn run_in_background(&self) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let task = match &self.side {
            Side::Local(local) => {
                let (tx, rx) = tokio::sync::watch::channel(false);
                let run = tokio::spawn(worker::run(
                    local.bench.database.clone(),
                    local.processor.clone(),
                    rx,
                ));
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    tx.send(true).unwrap();
                    run.await.unwrap();
                })
            }
            Side::Cloud(cloud) => {
                let cloud = cloud.handle();
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        cloud.run_due().await;
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                })
            }
        };
        Background { stop, task }
    }

    /// Starts again after a crash: locally a new process on the same
    /// folder, which releases the leases the dead one held; on AWS the next
    /// invocation, once the records in flight are visible again.
    pub async fn restart(&mut self) {
        match &mut self.side {
            Side::Local(local) => {
                let dir = local.take_dir();
                *local = Local::start(&self.config, &self.clock, Some(dir)).await;
                local.bench.database.release_leases().await.unwrap();
            }
            Side::Cloud(cloud) => cloud.requeue_in_flight().await,
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.set(self.clock.now() + by);
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        match &self.side {
            Side::Local(local) => Arc::new(local.bench.database.clone()),
            Side::Cloud(cloud) => Arc::new(cloud.store()),
        }
    }

    /// Messages stored, on every thread.
    pub async fn messages(&self) -> usize {
        self.acknowledgements().await.len()
    }

    /// Each stored message's channel and acknowledgement.
    pub async fn acknowledgements(&self) -> Vec<(Channel, Acknowledgement)> {
        let store = self.store().await;
        let mut all = Vec::new();
        for thread in store.threads().await.unwrap() {
            let full = store.thread(&thread.id).await.unwrap().unwrap();
            for message in full.messages {
                all.push((message.channel, message.acknowledgement.unwrap()));
            }
        }
        all
    }

    /// Acknowledgements the customers received on `channel`.
    pub async fn delivered(&self, channel: Channel) -> usize {
        if let Some(api) = self.apis.get(&channel) {
            return api.delivered();
        }
        if self.refuses(channel) {
            return 0;
        }
        self.emails_to_customers().await
    }

    /// Acknowledgements sent by email: the outbox's, or SES's.
    async fn emails_to_customers(&self) -> usize {
        let customers = format!("{}.c", self.tag);
        match &self.side {
            // A file in its place while the test makes it unwritable.
            Side::Local(local) if !local.bench.outbox.dir().is_dir() => 0,
            Side::Local(local) => local
                .bench
                .outbox_files()
                .iter()
                .filter(|(name, content)| {
                    name.contains("-ack-email-") && content.contains(&customers)
                })
                .count(),
            Side::Cloud(cloud) => cloud
                .gate
                .emailed()
                .iter()
                .filter(|to| to.contains(&customers))
                .count(),
        }
    }

    /// Acknowledgements received, on every channel.
    pub async fn delivered_everywhere(&self) -> usize {
        let mut n = 0;
        for &channel in Channel::ALL {
            n += self.delivered(channel).await;
        }
        n
    }

    /// Sends started on the channels' APIs and by email, answered or not.
    pub async fn attempts(&self) -> usize {
        let api: usize = self
            .apis
            .values()
            .map(|a| a.attempts.load(Ordering::SeqCst))
            .sum();
        let mail = match &self.side {
            Side::Local(local) => local.mailer.started.load(Ordering::SeqCst),
            Side::Cloud(cloud) => cloud.gate.held() + self.emails_to_customers().await,
        };
        api + mail
    }

    /// Jobs set aside for good: the dead-letter queue, or the SQLite queue's dead rows.
    pub async fn dead_letters(&self) -> u64 {
        match &self.side {
            Side::Local(local) => local.bench.database.queue_stats().await.unwrap().dead,
            Side::Cloud(cloud) => {
                accueil_aws::sqs::SqsQueue::depth(&cloud.sqs(), &cloud.dead_letters)
                    .await
                    .unwrap()
            }
        }
    }

    /// Sends the dead letters back to be processed, as the owner does once
    /// the cause is fixed (`accueil requeue`): locally only, the local AWS
    /// API has no message move task.
    pub async fn requeue_dead_letters(&self) -> usize {
        match &self.side {
            Side::Local(local) => local.bench.database.requeue_dead().await.unwrap(),
            Side::Cloud(_) => {
                panic!("the local AWS API cannot move a dead-letter queue's messages")
            }
        }
    }

    /// The owner's digest, as sent: the outbox's file or SES's email.
    pub async fn digest(&self) -> String {
        let now = self.clock.now();
        match &self.side {
            Side::Local(local) => {
                let dead = local.bench.database.queue_stats().await.unwrap().dead;
                let file = accueil_core::digest::send(
                    &self.config,
                    &local.bench.database,
                    &local.bench.outbox,
                    dead,
                    now,
                )
                .await
                .unwrap()
                .expect("something waits: the digest is sent");
                std::fs::read_to_string(file).unwrap().replace("=\r\n", "")
            }
            Side::Cloud(cloud) => {
                cloud.digest(now).await;
                let owner = format!("{}.owner@example.com", self.tag);
                let sent = aws::sent_emails().await;
                let (_, raw) = sent
                    .iter()
                    .rev()
                    .find(|(to, _)| to.contains(&owner))
                    .expect("the digest went out");
                raw.replace("=\r\n", "")
            }
        }
    }

    /// The queue cannot take a job: locally another process holds the
    /// database's write lock; on AWS SQS answers 503.
    pub fn queue_down(&self, down: bool) {
        match &self.side {
            Side::Local(local) => local.hold_write_lock(down),
            Side::Cloud(cloud) => cloud
                .gate
                .set(Service::SqsSend, down.then_some(Fault::Unavailable)),
        }
    }

    /// The store fails every request: locally its contacts' table is gone
    /// (the queue still works), on AWS DynamoDB answers 503.
    pub fn store_down(&self, down: bool) {
        match &self.side {
            Side::Local(local) => local.hide_contacts(down),
            Side::Cloud(cloud) => cloud
                .gate
                .set(Service::Dynamodb, down.then_some(Fault::Unavailable)),
        }
    }

    /// Puts a fault on the acknowledgements sent by email; None lifts it.
    pub fn mail_fault(&self, fault: Option<MailFault>) {
        match &self.side {
            Side::Local(local) => local.mail_fault(fault),
            Side::Cloud(cloud) => cloud.gate.set(
                Service::SesSend,
                fault.map(|f| match f {
                    MailFault::Unavailable => Fault::Throttling,
                    MailFault::Rejected => Fault::Rejected,
                    MailFault::Hang => Fault::Hang,
                }),
            ),
        }
    }

    /// Puts a record no version of Accueil wrote on the queue, among the others.
    pub async fn poison(&self) {
        const POISON: &str = "{\"job\":\"message\",\"channel\":42}";
        match &self.side {
            Side::Local(local) => {
                let conn = rusqlite::Connection::open(local.bench.database.path()).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
                conn.execute(
                    "INSERT INTO queue (job, enqueued_at, available_at) VALUES (?1, ?2, ?2)",
                    rusqlite::params![
                        POISON,
                        self.clock
                            .now()
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    ],
                )
                .unwrap();
            }
            Side::Cloud(cloud) => {
                cloud
                    .sqs()
                    .send_message()
                    .queue_url(&cloud.queue_url)
                    .message_body(POISON)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// The queue running in the background.
pub struct Background {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Lets what is under way finish, then stops.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
    }

    /// Stops at once, as `kill -9` or a Lambda's timeout does: nothing
    /// under way finishes.
    pub fn kill(self) {
        self.task.abort();
    }
}

/// The outbox, with the faults of a local disk.
struct LocalMailer {
    outbox: Outbox,
    hang: AtomicBool,
    started: AtomicUsize,
}

#[async_trait]
impl Mailer for LocalMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.outbox.send(email).await
    }
}

struct Local {
    bench: Bench,
    processor: Arc<Processor>,
    mailer: Arc<LocalMailer>,
    /// Another process's connection, holding the write lock while set.
    lock: Mutex<Option<rusqlite::Connection>>,
}

impl Local {
    async fn start(
        config: &Arc<Config>,
        clock: &Arc<TestClock>,
        dir: Option<tempfile::TempDir>,
    ) -> Local {
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let bench = Bench::start_with_clock(dir, (**config).clone(), clock.clone()).await;
        let database = bench.database.clone();
        let mailer = Arc::new(LocalMailer {
            outbox: bench.outbox.clone(),
            hang: AtomicBool::new(false),
            started: AtomicUsize::new(0),
        });
        let processor = Arc::new(Processor {
            config: config.clone(),
            store: Arc::new(database.clone()),
            mailer: mailer.clone(),
            sender: Arc::new(ChannelApis::new(config, None)),
            queue: Arc::new(database),
            clock: clock.clone(),
        });
        Local {
            bench,
            processor,
            mailer,
            lock: Mutex::new(None),
        }
    }

    fn take_dir(&mut self) -> tempfile::TempDir {
        self.bench.server.abort();
        std::mem::replace(&mut self.bench.dir, tempfile::tempdir().unwrap())
    }

    /// Each job due once: one that fails comes back after the queue's backoff.
    async fn run_due(&self) -> usize {
        let database = &self.bench.database;
        let mut failed = 0;
        while let Some(claimed) = database
            .claim(database.now(), Duration::seconds(60))
            .await
            .unwrap()
        {
            let outcome = match &claimed.job {
                Some(job) => self.processor.handle(job).await.map_err(|e| e.to_string()),
                None => Err("unreadable job".to_string()),
            };
            match outcome {
                Ok(_) => database.complete(&[claimed.id]).await.unwrap(),
                Err(e) => {
                    failed += 1;
                    database.fail(&claimed, e, database.now()).await.unwrap();
                }
            }
        }
        failed
    }

    fn hold_write_lock(&self, hold: bool) {
        let mut lock = self.lock.lock().unwrap();
        if hold {
            let conn = rusqlite::Connection::open(self.bench.database.path()).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            *lock = Some(conn);
        } else if let Some(conn) = lock.take() {
            conn.execute_batch("ROLLBACK").unwrap();
        }
    }

    fn hide_contacts(&self, hide: bool) {
        let conn = rusqlite::Connection::open(self.bench.database.path()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let (from, to) = if hide {
            ("contact_addresses", "contact_addresses_away")
        } else {
            ("contact_addresses_away", "contact_addresses")
        };
        conn.execute_batch(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .unwrap();
    }

    fn mail_fault(&self, fault: Option<MailFault>) {
        let outbox = self.bench.outbox.dir().to_path_buf();
        let away = outbox.with_extension("away");
        self.mailer
            .hang
            .store(fault == Some(MailFault::Hang), Ordering::SeqCst);
        match fault {
            // A file where the folder was: every write fails, as on a full
            // or unplugged disk.
            Some(MailFault::Unavailable) => {
                std::fs::rename(&outbox, &away).unwrap();
                std::fs::write(&outbox, b"").unwrap();
            }
            Some(MailFault::Rejected) => panic!("the outbox never refuses an email"),
            Some(MailFault::Hang) => {}
            None => {
                if away.exists() {
                    std::fs::remove_file(&outbox).unwrap();
                    std::fs::rename(&away, &outbox).unwrap();
                }
            }
        }
    }
}

/// The AWS functions as the event source mapping runs them.
struct Cloud {
    sdk: SdkConfig,
    gate: Gate,
    ingest: axum::Router,
    processor: Arc<Processor>,
    digest: accueil_digest::DigestFunction,
    table: String,
    queue_url: String,
    dead_letters: String,
    /// Receipt handles of the records handed to an invocation not yet over.
    in_flight: Arc<Mutex<HashMap<String, String>>>,
}

impl Cloud {
    async fn start(config: &str, clock: &Arc<TestClock>) -> Cloud {
        let sdk = aws::sdk().await;
        let gate = Gate::start(aws::endpoint()).await;
        let through_gate = sdk.to_builder().endpoint_url(gate.endpoint.clone()).build();
        let table = aws::table(&sdk).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let dead_letters = aws::queue(&sdk).await;
        let dead_letters_arn = sqs
            .get_queue_attributes()
            .queue_url(&dead_letters)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let queue_url = sqs
            .create_queue()
            .queue_name(aws::unique("accueil"))
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                json!({ "deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": REDRIVE_LIMIT })
                    .to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        aws::verify_sender(&sdk, "bonjour@atelier-lune.example").await;
        let ingest = accueil_ingest::router(
            &through_gate,
            accueil_ingest::Settings {
                queue_url: queue_url.clone(),
                table: table.clone(),
                config: config.to_string(),
            },
        )
        .await
        .unwrap();
        let mut processor = accueil_process::processor(
            &through_gate,
            accueil_process::Settings {
                table: table.clone(),
                queue_url: queue_url.clone(),
                config: config.to_string(),
            },
        )
        .await
        .unwrap();
        processor.clock = clock.clone();
        let digest = accueil_digest::DigestFunction::new(
            &sdk,
            accueil_digest::Settings {
                table: table.clone(),
                config: config.to_string(),
                dead_letter_queue: Some(dead_letters.clone()),
                public_url: None,
            },
        )
        .await
        .unwrap();
        Cloud {
            sdk,
            gate,
            ingest,
            processor: Arc::new(processor),
            digest,
            table,
            queue_url,
            dead_letters,
            in_flight: Arc::default(),
        }
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.table.clone())
    }

    async fn ingest(&self, sample: &channels::SampleRequest) -> u16 {
        let headers: serde_json::Map<String, Value> = sample
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let body = String::from_utf8(sample.body.clone()).unwrap();
        let request = aws::http_api_request(sample.path, Value::Object(headers), &body);
        aws::answer(self.ingest.clone(), request).await.0
    }

    async fn digest(&self, now: chrono::DateTime<Utc>) {
        self.digest.run(now).await.unwrap();
    }

    /// What a background task needs to run the queue.
    fn handle(&self) -> CloudQueue {
        CloudQueue {
            sqs: self.sqs(),
            queue_url: self.queue_url.clone(),
            processor: self.processor.clone(),
            in_flight: self.in_flight.clone(),
        }
    }

    async fn run_due(&self) -> usize {
        self.handle().run_due().await
    }

    /// The records a killed invocation held come back, as when their
    /// visibility timeout runs out.
    async fn requeue_in_flight(&self) {
        let handles: Vec<String> = self
            .in_flight
            .lock()
            .unwrap()
            .drain()
            .map(|(_, h)| h)
            .collect();
        self.handle().make_visible(handles).await;
    }
}

#[derive(Clone)]
struct CloudQueue {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    processor: Arc<Processor>,
    in_flight: Arc<Mutex<HashMap<String, String>>>,
}

impl CloudQueue {
    /// Receives what is visible and hands it to the process function in
    /// batches of ten; retries SQS delays (a second here) are waited for
    /// once, so that what the clock made due is taken in this round.
    async fn run_due(&self) -> usize {
        let mut failed = Vec::new();
        let mut waited = false;
        loop {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(180)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                if !waited && self.delayed().await > 0 {
                    waited = true;
                    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
                    continue;
                }
                break;
            }
            let mut records = Vec::new();
            for m in &messages {
                let id = m.message_id().unwrap().to_string();
                self.in_flight
                    .lock()
                    .unwrap()
                    .insert(id.clone(), m.receipt_handle().unwrap().to_string());
                records.push(sqs_record(&id, m.body().unwrap()));
            }
            let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
            let response = accueil_process::handle(&self.processor, event).await;
            let failures: Vec<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            for m in &messages {
                let id = m.message_id().unwrap();
                let handle = self.in_flight.lock().unwrap().remove(id).unwrap();
                if failures.iter().any(|f| f == id) {
                    failed.push(handle);
                } else {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
        let n = failed.len();
        self.make_visible(failed).await;
        n
    }

    /// The records come back at once, as when their visibility timeout runs out.
    async fn make_visible(&self, handles: Vec<String>) {
        for handle in handles {
            self.sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }

    async fn delayed(&self) -> u64 {
        let name = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed;
        self.sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(name.clone())
            .send()
            .await
            .unwrap()
            .attributes
            .and_then(|a| a.get(&name).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    }
}
