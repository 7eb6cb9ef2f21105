//! `accueil simulate`: sends a webhook exactly as the provider would,
//! signed with the business's own secret, to a running `accueil serve`.
//! What each channel's webhook looks like is the channel's own (`channels::sample`).

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;

use accueil_core::channels::{self, Sample};
use accueil_core::domain::Channel;

use crate::local::load_config;
use crate::Place;

#[derive(Args)]
pub struct SimulateArgs {
    /// The channel, named as in `[channels.<name>]`.
    #[arg(value_parser = channel)]
    channel: Channel,
    /// Who writes, as the channel knows them: an email for the web form; a
    /// phone number or a WhatsApp user id (US.123…) for WhatsApp; the page-
    /// or Instagram-scoped id (digits) for Messenger and Instagram; the user
    /// id (digits) for Telegram.
    #[arg(long)]
    from: String,
    /// What they write.
    #[arg(long)]
    text: String,
    /// Their name.
    #[arg(long)]
    name: Option<String>,
    /// The provider's message id, to replay a delivery (a number on Telegram).
    #[arg(long)]
    id: Option<String>,
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

fn channel(name: &str) -> Result<Channel, String> {
    Channel::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        format!("no channel {name:?} (channels: {})", known.join(", "))
    })
}

pub async fn run(place: &Place, args: SimulateArgs) -> Result<()> {
    let config = load_config(place.config.as_deref())?;
    let base = args.url.trim_end_matches('/');
    let sample = channels::sample(
        &config,
        args.channel,
        &Sample {
            from: &args.from,
            text: &args.text,
            name: args.name.as_deref(),
            id: args.id.as_deref(),
            at: Utc::now(),
        },
    )?;
    let mut request = reqwest::Client::new()
        .post(format!("{base}{}", sample.path))
        .body(sample.body);
    for (name, value) in sample.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.with_context(|| {
        format!("no Accueil server answers at {base} (is `accueil serve` running?)")
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{status} {}", text.trim());
    if !status.is_success() {
        bail!("the server refused the webhook");
    }
    Ok(())
}
