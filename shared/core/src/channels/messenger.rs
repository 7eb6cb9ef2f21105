//! Facebook Messenger: a Page's conversations, on `/webhooks/messenger`
//! (`object: "page"`), answered through the Send API,
//! `POST /{page_id}/messages`. What it shares with Instagram is
//! `meta_messaging`'s.

use serde::Deserialize;

use crate::channels::meta_messaging::{Fields, Messaging, Platform, Settings, Target};
use crate::domain::{Channel, ReplyTarget};

pub type Messenger = Messaging<Page>;

pub struct Page;

/// `[channels.messenger]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    page_id: String,
    verify_token: String,
    app_secret: String,
    page_access_token: String,
    api_base_url: Option<String>,
}

impl Platform for Page {
    const CHANNEL: Channel = Channel::Messenger;
    const OBJECT: &'static str = "page";
    const PATH: &'static str = "/webhooks/messenger";
    const PUBLIC_API: &'static str = "https://graph.facebook.com/v21.0";
    const LABEL: &'static str = "Messenger";
    const DEMO_SENDER: &'static str = "6912345678901234";
    /// Messenger's text: 2,000 characters.
    const MAX_REPLY_BYTES: usize = 2_000;
    const SENDER: &'static str = "a page-scoped id (digits)";
    const ACCOUNT_KEY: &'static str = "page_id";
    const ACCOUNT_HINT: &'static str =
        "is the numeric id of your Facebook Page (Page settings, About)";
    const TOKEN_KEY: &'static str = "page_access_token";

    type Raw = RawSettings;

    fn fields(raw: RawSettings) -> Fields {
        Fields {
            account_id: raw.page_id,
            verify_token: raw.verify_token,
            app_secret: raw.app_secret,
            access_token: raw.page_access_token,
            api_base_url: raw.api_base_url,
        }
    }

    fn reply_target(target: Target) -> ReplyTarget {
        ReplyTarget::Messenger(target)
    }

    /// The Page's inbox in Meta Business Suite.
    fn reply_link(settings: &Settings) -> String {
        format!(
            "https://business.facebook.com/latest/inbox/messenger?asset_id={}",
            settings.account_id
        )
    }
}
