//! `accueil simulate`: sends a webhook exactly as the provider would,
//! signed with the business's own secret, to a running `accueil serve`.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Args, ValueEnum};
use serde_json::json;

use accueil_core::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use accueil_core::channels::{webform, whatsapp};
use accueil_core::domain::{BusinessScopedUserId, PhoneNumber};

use crate::local::load_config;
use crate::Place;

#[derive(Clone, Copy, ValueEnum)]
pub enum SimulatedChannel {
    Webform,
    Whatsapp,
}

#[derive(Args)]
pub struct SimulateArgs {
    channel: SimulatedChannel,
    /// Who writes: an email for the web form; a phone number or a
    /// WhatsApp user id (US.123…) for WhatsApp.
    #[arg(long)]
    from: String,
    /// What they write.
    #[arg(long)]
    text: String,
    /// Their name.
    #[arg(long)]
    name: Option<String>,
    /// The provider's message id, to replay a delivery (WhatsApp).
    #[arg(long)]
    id: Option<String>,
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

pub async fn run(place: &Place, args: SimulateArgs) -> Result<()> {
    let config = load_config(place.config.as_deref())?;
    let client = reqwest::Client::new();
    let base = args.url.trim_end_matches('/');
    let request = match args.channel {
        SimulatedChannel::Webform => {
            if config.webform.is_none() {
                bail!("the web form channel is not enabled in this configuration");
            }
            let mut form = vec![
                ("email", args.from.as_str()),
                ("message", args.text.as_str()),
            ];
            if let Some(name) = &args.name {
                form.push(("name", name));
            }
            client
                .post(format!("{base}{}", webform::PATH))
                .header("accept", "application/json")
                .form(&form)
        }
        SimulatedChannel::Whatsapp => {
            let settings = config
                .whatsapp
                .as_ref()
                .context("the WhatsApp channel is not enabled in this configuration")?;
            let body = whatsapp_payload(&settings.phone_number_id, &args)?;
            let signature = MetaSignature::new(settings.app_secret.expose()).sign(body.as_bytes());
            client
                .post(format!("{base}{}", whatsapp::PATH))
                .header("content-type", "application/json")
                .header(META_SIGNATURE_HEADER, signature)
                .body(body)
        }
    };
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

/// A Cloud API text message, as Meta sends it.
fn whatsapp_payload(phone_number_id: &str, args: &SimulateArgs) -> Result<String> {
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("wamid.SIM{}", uuid::Uuid::new_v4().simple()));
    let mut contact = json!({ "profile": { "name": args.name.clone().unwrap_or_else(|| "Simulated customer".into()) } });
    let mut message = json!({
        "id": id,
        "timestamp": Utc::now().timestamp().to_string(),
        "type": "text",
        "text": { "body": args.text },
    });
    if let Ok(user) = BusinessScopedUserId::parse(&args.from) {
        contact["user_id"] = json!(user.as_str());
        message["from_user_id"] = json!(user.as_str());
    } else {
        let phone = PhoneNumber::parse(&args.from).map_err(|_| {
            anyhow::anyhow!(
                "--from {:?} is neither a phone number nor a WhatsApp user id",
                args.from
            )
        })?;
        contact["wa_id"] = json!(phone.digits());
        message["from"] = json!(phone.digits());
    }
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "0",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "0", "phone_number_id": phone_number_id },
                    "contacts": [contact],
                    "messages": [message],
                }
            }]
        }]
    });
    Ok(payload.to_string())
}
