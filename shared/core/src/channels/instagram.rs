//! Instagram direct messages, with Instagram Login: `/webhooks/instagram`
//! (`object: "instagram"`), answered through the Instagram API,
//! `POST /{account_id}/messages`. What it shares with Messenger is
//! `meta_messaging`'s.

use serde::Deserialize;

use crate::channels::meta_messaging::{Fields, Messaging, Platform, Settings, Target};
use crate::domain::{Channel, ReplyTarget};

pub type Instagram = Messaging<Account>;

pub struct Account;

/// `[channels.instagram]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    account_id: String,
    verify_token: String,
    app_secret: String,
    access_token: String,
    api_base_url: Option<String>,
}

impl Platform for Account {
    const CHANNEL: Channel = Channel::Instagram;
    const OBJECT: &'static str = "instagram";
    const PATH: &'static str = "/webhooks/instagram";
    const PUBLIC_API: &'static str = "https://graph.instagram.com/v21.0";
    const LABEL: &'static str = "Instagram";
    const DEMO_SENDER: &'static str = "17841400000000077";
    /// Instagram's text: 1,000 bytes of UTF-8.
    const MAX_REPLY_BYTES: usize = 1_000;
    const SENDER: &'static str = "an Instagram-scoped id (digits)";
    const ACCOUNT_KEY: &'static str = "account_id";
    const ACCOUNT_HINT: &'static str =
        "is the numeric id of your Instagram professional account (the app dashboard shows it)";
    const TOKEN_KEY: &'static str = "access_token";

    type Raw = RawSettings;

    fn fields(raw: RawSettings) -> Fields {
        Fields {
            account_id: raw.account_id,
            verify_token: raw.verify_token,
            app_secret: raw.app_secret,
            access_token: raw.access_token,
            api_base_url: raw.api_base_url,
        }
    }

    fn reply_target(target: Target) -> ReplyTarget {
        ReplyTarget::Instagram(target)
    }

    /// The account's Direct inbox.
    fn reply_link(_: &Settings) -> String {
        "https://www.instagram.com/direct/inbox/".to_string()
    }
}
