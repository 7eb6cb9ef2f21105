//! Outgoing email as proper MIME: UTF-8 encoded headers, a Message-ID, HTML
//! and text parts, and the RFC 3834 headers of an automatic reply.

use chrono::{DateTime, Utc};
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;
use mail_builder::MessageBuilder;
use serde::{Deserialize, Serialize};

use crate::domain::EmailAddress;

/// An email ready to hand to a mailer: the raw message and its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub from: EmailAddress,
    pub to: EmailAddress,
    /// Without angle brackets, as stored for threading replies later.
    pub message_id: String,
    pub subject: String,
    /// The whole RFC 5322 message.
    pub raw: Vec<u8>,
    /// True for acknowledgements: sent with a null return path so that a
    /// bounce can never start a loop of automatic replies.
    pub auto_reply: bool,
}

/// What an email says and to whom; `compose` turns it into MIME.
pub struct Draft<'a> {
    pub from_name: &'a str,
    pub from: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    pub to: &'a EmailAddress,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub date: DateTime<Utc>,
    /// Set for automatic replies (RFC 3834 `Auto-Submitted: auto-replied`).
    pub auto_reply: bool,
    /// Its Message-ID's left part, when it must be known beforehand (a
    /// reply threads under it later); a random one when None.
    pub id: Option<&'a str>,
    /// The Message-IDs it answers, oldest first: the last is its
    /// `In-Reply-To`, all are its `References`.
    pub references: &'a [String],
}

/// Header values never carry a line break: customer-provided names and
/// subjects could otherwise inject headers.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn compose(draft: &Draft<'_>) -> OutgoingEmail {
    let domain = domain_of(draft.from);
    let message_id = message_id(
        draft.id.unwrap_or(&uuid::Uuid::new_v4().to_string()),
        domain,
    );
    let subject = one_line(draft.subject);

    let mut builder = MessageBuilder::new()
        .from(mailbox(Some(draft.from_name), draft.from))
        .to(mailbox(draft.to_name, draft.to))
        .subject(subject.clone())
        .date(draft.date.timestamp())
        .message_id(message_id.clone())
        .text_body(draft.text.to_string())
        .html_body(draft.html.to_string());
    if let Some(last) = draft.references.last() {
        builder = builder
            .in_reply_to(last.as_str())
            .references(draft.references);
    }
    if draft.auto_reply {
        builder = builder
            .header("Auto-Submitted", Text::new("auto-replied"))
            // Microsoft's servers honour this instead of Auto-Submitted.
            .header("X-Auto-Response-Suppress", Text::new("All"));
    }
    let raw = builder
        .write_to_vec()
        .expect("writing MIME to memory cannot fail");
    OutgoingEmail {
        from: draft.from.clone(),
        to: draft.to.clone(),
        message_id,
        subject,
        raw,
        auto_reply: draft.auto_reply,
    }
}

/// A Message-ID (without angle brackets) from `left` of the sender's
/// `domain`, keeping only what RFC 5322 allows there unquoted.
pub fn message_id(left: &str, domain: &str) -> String {
    let left: String = left
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
        .collect();
    format!("{left}@{domain}")
}

/// The domain of the business's address, for its Message-IDs.
pub fn domain_of(address: &EmailAddress) -> &str {
    address
        .as_str()
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("accueil.invalid")
}

/// A name and address header value; without a name, the bare address (an
/// empty name would show as `"" <owner@example.com>`).
fn mailbox(name: Option<&str>, address: &EmailAddress) -> Address<'static> {
    let address = address.as_str().to_string();
    match name.map(one_line).filter(|n| !n.trim().is_empty()) {
        Some(name) => Address::from((name, address)),
        None => Address::from(address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn draft<'a>(from: &'a EmailAddress, to: &'a EmailAddress) -> Draft<'a> {
        Draft {
            from_name: "Atelier Lune",
            from,
            to_name: Some("Zoé\r\nBcc: victim@example.com"),
            to,
            subject: "Nous avons bien reçu votre message",
            text: "Bonjour Zoé",
            html: "<p>Bonjour Zoé</p>",
            date: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            auto_reply: true,
            id: None,
            references: &[],
        }
    }

    #[test]
    fn an_acknowledgement_is_multipart_mime_marked_auto_replied() {
        let (from, to) = (
            addr("bonjour@atelier-lune.example"),
            addr("zoe@example.com"),
        );
        let email = compose(&draft(&from, &to));
        let raw = String::from_utf8(email.raw).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-replied\r\n"), "{raw}");
        assert!(
            raw.contains(&format!("Message-ID: <{}>\r\n", email.message_id)),
            "{raw}"
        );
        assert!(email.message_id.ends_with("@atelier-lune.example"));
        // It answers no email: no threading headers.
        assert!(!raw.contains("In-Reply-To"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        // Non-ASCII headers are RFC 2047 encoded, never raw UTF-8.
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(headers.is_ascii(), "{headers}");
    }

    #[test]
    fn a_name_with_a_line_break_cannot_inject_a_header() {
        let (from, to) = (
            addr("bonjour@atelier-lune.example"),
            addr("zoe@example.com"),
        );
        let email = compose(&draft(&from, &to));
        let raw = String::from_utf8(email.raw).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
        assert!(!raw.contains("victim@example.com>"), "{headers}");
    }

    #[test]
    fn an_address_without_a_name_has_no_empty_name() {
        let (from, to) = (
            addr("bonjour@atelier-lune.example"),
            addr("owner@atelier-lune.example"),
        );
        let mut d = draft(&from, &to);
        for blank in [None, Some(" ")] {
            d.to_name = blank;
            let raw = String::from_utf8(compose(&d).raw).unwrap();
            assert!(
                raw.contains("To: <owner@atelier-lune.example>\r\n"),
                "{raw}"
            );
            assert!(
                raw.contains("From: \"Atelier Lune\" <bonjour@atelier-lune.example>\r\n"),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_email_that_is_no_automatic_reply_is_not_marked_one() {
        let (from, to) = (
            addr("bonjour@atelier-lune.example"),
            addr("zoe@example.com"),
        );
        let mut d = draft(&from, &to);
        d.auto_reply = false;
        let raw = String::from_utf8(compose(&d).raw).unwrap();
        assert!(!raw.contains("Auto-Submitted"));
        assert!(!raw.contains("X-Auto-Response-Suppress"));
    }
}
