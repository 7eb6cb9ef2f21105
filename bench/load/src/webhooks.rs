//! The webhooks of a scenario: WhatsApp Cloud API text messages, each from
//! a customer of its own (a customer's second message inside the quiet
//! period is owed no acknowledgement), signed with the demo app secret as
//! Meta signs them; written out for wrk, or posted through the ingest
//! router in this process to fill a backlog with no worker running.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use axum::body::Body;
use axum::extract::ConnectInfo;
use tower::ServiceExt;

use accueil_core::channels::{self, Channel, Sample, SampleRequest};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::ingest;
use accueil_core::ports::SystemClock;
use accueil_embedded::Database;

const MESSAGE_ID_PREFIX: &str = "wamid.LOAD";

/// The demo business with every channel that has an API sending to `api`,
/// the stand-in (as the tests' `demo_text_with_api`): nothing reaches a
/// real provider, and no acknowledgement lands in the outbox instead.
pub fn config_text(api: &str) -> Result<String> {
    let demo = Config::demo();
    let mut text = accueil_core::config::DEMO.to_string();
    for &channel in Channel::ALL {
        if channels::api(&demo, channel).is_some() {
            let header = format!("[channels.{channel}]");
            ensure!(text.contains(&header), "the demo has no {header}");
            text = text.replace(&header, &format!("{header}\napi_base_url = \"{api}\""));
        }
    }
    Config::parse(&text, &LocalSecrets).context("the benchmark's configuration")?;
    Ok(text)
}

/// The provider's message id of webhook `index`, quoted by its acknowledgement.
fn message_id(index: usize) -> String {
    format!("{MESSAGE_ID_PREFIX}{index:08}")
}

pub fn index_of_message_id(id: &str) -> Option<usize> {
    id.strip_prefix(MESSAGE_ID_PREFIX)?.parse().ok()
}

/// `count` distinct signed webhooks, stamped as sent now (the reply
/// window of WhatsApp counts from the stamp).
pub fn generate(config_text: &str, count: usize) -> Result<Vec<SampleRequest>> {
    let config = Config::parse(config_text, &LocalSecrets)?;
    let at = chrono::Utc::now();
    (0..count)
        .map(|i| {
            let from = format!("+336{i:08}");
            let id = message_id(i);
            let name = format!("Client {i}");
            let text = format!("Bonjour, auriez-vous un créneau samedi matin ? (n° {i})");
            let sample = Sample {
                from: &from,
                text: &text,
                name: Some(&name),
                id: Some(&id),
                at,
            };
            channels::sample(&config, Channel::Whatsapp, &sample)
                .map_err(|e| anyhow::anyhow!("sample webhook: {e}"))
        })
        .collect()
}

/// The requests as wrk sends them, whole, each after its length in bytes
/// on a line of its own (what `wrk.lua` reads).
pub fn write_for_wrk(requests: &[SampleRequest], host: &str, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
    let mut out = std::io::BufWriter::new(file);
    for request in requests {
        let mut raw = format!("POST {} HTTP/1.1\r\nHost: {host}\r\n", request.path).into_bytes();
        for (name, value) in &request.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", request.body.len()).as_bytes());
        raw.extend_from_slice(&request.body);
        writeln!(out, "{}", raw.len())?;
        out.write_all(&raw)?;
    }
    out.flush()?;
    Ok(())
}

/// Posts each webhook through the ingest router `accueil serve` runs, over
/// the database file in `data`, with no worker: the jobs wait on the queue
/// as they would after an outage, for the next `accueil serve` to drain.
pub async fn fill_backlog(
    config_text: &str,
    data: &Path,
    requests: &[SampleRequest],
) -> Result<()> {
    let config = Arc::new(Config::parse(config_text, &LocalSecrets)?);
    let database = Database::open(&data.join("accueil.db"))?;
    let app = ingest::router(
        config,
        Arc::new(database.clone()),
        Arc::new(database.clone()),
        Arc::new(SystemClock),
    );
    let peer = ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000)));
    for request in requests {
        let mut builder = axum::http::Request::post(request.path);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut http = builder.body(Body::from(request.body.clone()))?;
        http.extensions_mut().insert(peer);
        let answer = app.clone().oneshot(http).await?;
        if !answer.status().is_success() {
            bail!(
                "the ingest router answered {} to a webhook",
                answer.status()
            );
        }
    }
    let queued = database.queue_stats().await?.waiting;
    ensure!(
        queued == requests.len() as u64,
        "{queued} jobs queued for {} webhooks",
        requests.len()
    );
    Ok(())
}
