//! The owner's private links: `{public_url}/owner/threads/{thread}?t={token}`.
//! No account, no password: the token is the key to one thread until it
//! expires. It is an HMAC-SHA256, keyed with `[owner] link_secret`, over the
//! thread id and the expiry: `<expiry, Unix seconds>.<64 hex digits>`,
//! nothing in it needs escaping in a URL. Every form posts it back: another
//! site, not knowing it, cannot make the owner's browser act (cross-site
//! request forgery). The forms also carry a token derived from it and the
//! thread, which ties each form to the page it came from.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::SecretValue;
use crate::domain::ThreadId;

/// How long a digest's link opens its thread: two weeks of digests.
pub const LINK_LIFETIME: Duration = Duration::days(14);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    /// Not made with our key for this thread: altered, made up, or another
    /// thread's.
    #[error("the link is not valid for this conversation")]
    Invalid,
    /// Authentic, but too old.
    #[error("the link has expired")]
    Expired,
}

/// Makes and checks links; keyed once.
#[derive(Clone)]
pub struct LinkKey {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

impl LinkKey {
    /// Keyed with `[owner] link_secret`.
    pub fn new(secret: &SecretValue) -> LinkKey {
        LinkKey::from_bytes(secret.expose().as_bytes())
    }

    fn from_bytes(secret: &[u8]) -> LinkKey {
        LinkKey {
            keyed: Hmac::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    /// A MAC over the parts, each on its own line: no two different lists
    /// of parts (thread ids and numbers have no line breaks) read alike.
    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    /// The token of a link to `thread` that works until `expires`.
    pub fn link_token(&self, thread: &ThreadId, expires: DateTime<Utc>) -> String {
        let expires = expires.timestamp().to_string();
        let mac = self.mac(&["link", thread.as_str(), &expires]).finalize();
        format!("{expires}.{}", hex::encode(mac.into_bytes()))
    }

    /// Whether `token` opens `thread` at `now`. The MAC is compared in
    /// constant time, and checked before the expiry: an altered token is
    /// "invalid" whatever date it claims.
    pub fn check_link(
        &self,
        thread: &ThreadId,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkRefused> {
        let (expires, mac) = token.split_once('.').ok_or(LinkRefused::Invalid)?;
        let mac = hex::decode(mac).map_err(|_| LinkRefused::Invalid)?;
        self.mac(&["link", thread.as_str(), expires])
            .verify_slice(&mac)
            .map_err(|_| LinkRefused::Invalid)?;
        let expires: i64 = expires.parse().map_err(|_| LinkRefused::Invalid)?;
        if now.timestamp() >= expires {
            return Err(LinkRefused::Expired);
        }
        Ok(())
    }

    /// The token the page's forms carry: bound to the link's token and its
    /// thread, so it is worth nothing without both.
    pub fn form_token(&self, thread: &ThreadId, link_token: &str) -> String {
        let mac = self.mac(&["form", thread.as_str(), link_token]).finalize();
        hex::encode(mac.into_bytes())
    }

    /// Whether a posted form token goes with this link and thread.
    pub fn check_form(&self, thread: &ThreadId, link_token: &str, form_token: &str) -> bool {
        hex::decode(form_token).is_ok_and(|mac| {
            self.mac(&["form", thread.as_str(), link_token])
                .verify_slice(&mac)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> LinkKey {
        LinkKey::from_bytes(secret.as_bytes())
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_link_opens_its_thread_until_it_expires() {
        let key = key("s3cret");
        let thread = ThreadId::parse("T-0123456789").unwrap();
        let token = key.link_token(&thread, at("2026-12-18T09:00:00Z"));
        assert!(token
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c.is_ascii_hexdigit()));
        assert_eq!(
            key.check_link(&thread, &token, at("2026-12-18T08:59:59Z")),
            Ok(())
        );
        assert_eq!(
            key.check_link(&thread, &token, at("2026-12-18T09:00:00Z")),
            Err(LinkRefused::Expired)
        );
    }

    #[test]
    fn another_thread_an_altered_token_or_another_key_is_refused() {
        let key_a = key("s3cret");
        let thread = ThreadId::parse("T-0123456789").unwrap();
        let other = ThreadId::parse("T-9876543210").unwrap();
        let now = at("2026-12-04T09:00:00Z");
        let token = key_a.link_token(&thread, at("2026-12-18T09:00:00Z"));
        assert_eq!(
            key_a.check_link(&other, &token, now),
            Err(LinkRefused::Invalid)
        );
        assert_eq!(
            key("other secret").check_link(&thread, &token, now),
            Err(LinkRefused::Invalid)
        );
        // A later expiry with the old MAC, one digit of the MAC changed, a
        // cut MAC, junk: all invalid, never "expired" nor valid.
        let (expires, mac) = token.split_once('.').unwrap();
        let pushed = format!("{}.{mac}", expires.parse::<i64>().unwrap() + 86_400);
        let flipped = {
            let mut mac = mac.to_string();
            let last = if mac.ends_with('0') { "1" } else { "0" };
            mac.replace_range(63.., last);
            format!("{expires}.{mac}")
        };
        for bad in [
            pushed,
            flipped,
            format!("{expires}.{}", &mac[..32]),
            String::new(),
            ".".into(),
            "abc".into(),
            format!("{expires}.{mac}x"),
        ] {
            assert_eq!(
                key_a.check_link(&thread, &bad, now),
                Err(LinkRefused::Invalid),
                "{bad}"
            );
        }
        // An expired link made with another key is invalid, not expired.
        let old = key("other secret").link_token(&thread, at("2026-01-01T00:00:00Z"));
        assert_eq!(
            key_a.check_link(&thread, &old, now),
            Err(LinkRefused::Invalid)
        );
    }

    #[test]
    fn a_form_token_goes_with_one_link_and_one_thread() {
        let key = key("s3cret");
        let thread = ThreadId::parse("T-0123456789").unwrap();
        let other = ThreadId::parse("T-9876543210").unwrap();
        let link = key.link_token(&thread, at("2026-12-18T09:00:00Z"));
        let later_link = key.link_token(&thread, at("2026-12-19T09:00:00Z"));
        let form = key.form_token(&thread, &link);
        assert!(key.check_form(&thread, &link, &form));
        assert!(!key.check_form(&other, &link, &form));
        assert!(!key.check_form(&thread, &later_link, &form));
        assert!(!key.check_form(&thread, &link, ""));
        assert!(!key.check_form(&thread, &link, &form[..62]));
        assert!(!key.check_form(&thread, &link, &form.to_uppercase().replace('A', "B")));
    }
}
