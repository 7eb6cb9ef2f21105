//! Acknowledgements through the channels' own APIs over HTTPS: the
//! transport, the same for every channel; what to send, where, and how to
//! read the answer is the channel's (`channels::api`). Locally a channel with
//! no `api_base_url` writes to the outbox instead; on AWS the public API is
//! the default.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::channels::{self, Api, ApiAuth};
use crate::config::Config;
use crate::domain::Channel;
use crate::ports::{ApiRequest, ChannelSender, SendError};

/// Where a channel that authenticates in the path (`ApiAuth::InPath`)
/// writes its token in a request's path: filled in only on the wire, so the
/// token is in no queued job, outbox file or log line.
pub const TOKEN_IN_PATH: &str = "{token}";

/// One attempt's limit. Attempts are retried on the queue (`delivery`),
/// never here: a slow API holds up no other acknowledgement for longer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where each channel's API requests go.
pub struct ChannelApis {
    /// Built on first use: most cold starts acknowledge by email and never need it.
    client: OnceLock<reqwest::Client>,
    endpoints: HashMap<Channel, Endpoint>,
    /// Used for channels with no endpoint (the local outbox).
    fallback: Option<Arc<dyn ChannelSender>>,
}

struct Endpoint {
    base_url: String,
    api: Api,
}

impl ChannelApis {
    /// `fallback` takes the requests of channels whose API base URL is not
    /// configured; with no fallback they go to the public APIs.
    pub fn new(config: &Config, fallback: Option<Arc<dyn ChannelSender>>) -> ChannelApis {
        let endpoints = Channel::ALL
            .iter()
            .copied()
            .filter_map(|channel| {
                let api = channels::api(config, channel)?;
                let base_url = match (&api.configured_url, &fallback) {
                    (Some(url), _) => url.clone(),
                    (None, None) => api.public_url.to_string(),
                    (None, Some(_)) => return None,
                };
                Some((channel, Endpoint { base_url, api }))
            })
            .collect();
        ChannelApis {
            client: OnceLock::new(),
            endpoints,
            fallback,
        }
    }

    fn client(&self) -> &reqwest::Client {
        // Mozilla's roots are compiled in already parsed (reqwest's
        // webpki-roots): no certificate store to read or decode here.
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .user_agent(concat!("accueil/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client builds with rustls")
        })
    }

    async fn post(&self, endpoint: &Endpoint, request: &ApiRequest) -> Result<String, SendError> {
        let (url, bearer) = match &endpoint.api.auth {
            ApiAuth::Bearer(token) => (
                format!("{}{}", endpoint.base_url, request.path),
                Some(token),
            ),
            ApiAuth::InPath(token) => (
                format!(
                    "{}{}",
                    endpoint.base_url,
                    request.path.replace(TOKEN_IN_PATH, token.expose())
                ),
                None,
            ),
        };
        let mut post = self.client().post(&url).json(&request.body);
        if let Some(token) = bearer {
            post = post.bearer_auth(token.expose());
        }
        // Only the status is reported: a provider's error body can echo the
        // customer's number and text.
        match post.send().await {
            Ok(r) if r.status().is_success() => {
                let answer: serde_json::Value = r.json().await.unwrap_or_default();
                Ok((endpoint.api.receipt)(&answer).unwrap_or_else(|| "sent".into()))
            }
            // 408 and 429 ask to come back later; other 4xx will not change.
            Ok(r) if r.status().is_client_error() && ![408, 429].contains(&r.status().as_u16()) => {
                Err(SendError::Rejected(format!(
                    "{} answered {}",
                    request.channel,
                    r.status()
                )))
            }
            Ok(r) => Err(SendError::Transient(format!(
                "{} answered {}",
                request.channel,
                r.status()
            ))),
            Err(e) => Err(SendError::Transient(format!(
                "{} unreachable ({})",
                request.channel,
                if e.is_timeout() {
                    "timeout"
                } else {
                    "connection failed"
                }
            ))),
        }
    }
}

#[async_trait]
impl ChannelSender for ChannelApis {
    async fn send(&self, request: &ApiRequest) -> Result<String, SendError> {
        match (self.endpoints.get(&request.channel), &self.fallback) {
            (Some(endpoint), _) => self.post(endpoint, request).await,
            (None, Some(fallback)) => fallback.send(request).await,
            (None, None) => Err(SendError::Rejected(format!(
                "{} has no API configured",
                request.channel
            ))),
        }
    }
}
