//! The owner's side of a conversation, from the digest: a private page per
//! thread (`page`), its forms (`routes`), the reply they queue and its
//! delivery on the thread's channel (`reply`).

pub mod later;
pub mod link;
mod page;
pub mod reply;
mod routes;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::ThreadId;

pub use link::{LinkKey, LinkRefused, LINK_LIFETIME};
pub use reply::Reply;
pub use routes::{routes, served, PAGE};

/// Where links point when `[owner] public_url` is unset and no server said
/// where it listens (`accueil digest` run alone): `serve`'s default.
pub const LOCAL_URL: &str = "http://127.0.0.1:8080";

/// The path of a thread's page.
pub fn page_path(thread: &ThreadId) -> String {
    PAGE.replace("{id}", thread.as_str())
}

/// The private link to a thread's page, valid `LINK_LIFETIME` from `now`;
/// None without `[owner]`.
pub fn page_link(config: &Config, thread: &ThreadId, now: DateTime<Utc>) -> Option<String> {
    let owner = config.owner.as_ref()?;
    let base = owner.public_url.as_deref().unwrap_or(LOCAL_URL);
    let token = owner.links.link_token(thread, now + LINK_LIFETIME);
    Some(format!("{base}{}?t={token}", page_path(thread)))
}
