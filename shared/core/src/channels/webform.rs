//! The website form: `POST /webhooks/webform`, form-encoded or JSON, with the
//! fields `name`, `email`, `phone`, `message`. The browser gets a thank-you
//! page (or JSON when it asks for JSON); the customer gets an email.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use serde_json::json;

use crate::ack::{self, AckText};
use crate::channels::{Api, ChannelModule, Outbound, Sample, SampleError, SampleRequest};
use crate::config::{Config, ConfigError, SecretSource};
use crate::domain::{
    AckState, Address, Author, Channel, EmailAddress, Envelope, Message, PhoneNumber,
    ProviderMessageId, ReplyTarget, Sender, Thread, ThreadId,
};
use crate::email::{self, Draft, OutgoingEmail};
use crate::ports::{Job, ThreadWithMessages};
use crate::webhook::{client_ip, read_body, Inbound};
use crate::wording::Language;

pub const PATH: &str = "/webhooks/webform";

const MAX_NAME_CHARS: usize = 200;

pub struct Webform;

/// The way back to a form's sender: an email to the address the form gave,
/// quoting the reference the thank-you page already showed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Target {
    pub email: EmailAddress,
    pub reference: ThreadId,
}

impl ChannelModule for Webform {
    type Raw = RawSettings;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("POST", PATH);
    const DEMO_SENDER: &'static str = "zoe@example.com";
    /// An email: no provider limit; far more than anyone types on a phone.
    const MAX_REPLY_BYTES: usize = 20_000;

    fn settings(raw: RawSettings, _: &dyn SecretSource) -> Result<Settings, ConfigError> {
        settings(raw)
    }

    fn label(lang: Language) -> &'static str {
        match lang {
            Language::Fr => "Formulaire du site",
            Language::En => "Web form",
        }
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        let form = Form {
            inbound: inbound.clone(),
            limiter: RateLimiter::per_minute(settings.rate_limit_per_minute),
            honeypot_field: settings.honeypot_field.clone(),
        };
        Router::new()
            .route(PATH, post(submit))
            .with_state(Arc::new(form))
    }

    fn acknowledgement(
        config: &Config,
        _: &Settings,
        envelope: &Envelope,
        target: &Target,
        text: &AckText,
    ) -> Outbound {
        Outbound::Email(acknowledgement(config, envelope, &target.email, text))
    }

    /// A form is acknowledged by email, through the mailer.
    fn api(_: &Settings) -> Option<Api> {
        None
    }

    fn reply_link(_: &Settings, thread: &Thread, addresses: &[&Address]) -> Option<String> {
        reply_link(&thread.id, addresses)
    }

    /// An email to the address the form gave.
    fn owner_reply(
        config: &Config,
        _: &Settings,
        thread: &ThreadWithMessages,
        addresses: &[&Address],
        reply: &Message,
    ) -> Option<Outbound> {
        let to = addresses.iter().find_map(|a| match a {
            Address::Email(e) => Some(e),
            _ => None,
        })?;
        Some(Outbound::Email(owner_reply(config, thread, to, reply)))
    }

    /// A form is not signed: the rate limit and the honeypot keep robots out.
    fn signature(_: &Settings, _: &[u8]) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn sample(_: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        self::sample(sample)
    }

    fn promised_reference(target: &Target) -> Option<&ThreadId> {
        Some(&target.reference)
    }
}

/// The form's handlers' state: the shared one, the form's own limiter and
/// its honeypot.
struct Form {
    inbound: Arc<Inbound>,
    limiter: RateLimiter,
    honeypot_field: String,
}

/// `[channels.webform]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    #[serde(default = "default_rate_limit")]
    rate_limit_per_minute: u32,
    #[serde(default = "default_honeypot")]
    honeypot_field: String,
}

fn default_rate_limit() -> u32 {
    5
}

fn default_honeypot() -> String {
    "website".into()
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Submissions allowed per client IP per minute.
    pub rate_limit_per_minute: u32,
    /// The hidden field a person leaves empty and a robot fills in.
    pub honeypot_field: String,
}

fn settings(raw: RawSettings) -> Result<Settings, ConfigError> {
    if raw.rate_limit_per_minute == 0 {
        return Err(ConfigError::new(
            "channels.webform.rate_limit_per_minute",
            "must be at least 1",
        ));
    }
    if raw.honeypot_field.trim().is_empty() {
        return Err(ConfigError::new(
            "channels.webform.honeypot_field",
            "is empty",
        ));
    }
    Ok(Settings {
        rate_limit_per_minute: raw.rate_limit_per_minute,
        honeypot_field: raw.honeypot_field,
    })
}

/// Submissions per client IP per minute; keeps a script from filling the
/// owner's digest or using the form to send email to strangers.
struct RateLimiter(DefaultKeyedRateLimiter<IpAddr>);

impl RateLimiter {
    fn per_minute(n: u32) -> RateLimiter {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        RateLimiter(DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)))
    }

    fn allow(&self, ip: IpAddr) -> bool {
        let allowed = self.0.check_key(&ip).is_ok();
        // Forget idle clients so the map does not grow without bound.
        self.0.retain_recent();
        allowed
    }
}

/// A submission, read from either encoding.
#[derive(Debug, PartialEq)]
struct Submission {
    fields: Vec<(String, String)>,
}

impl Submission {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A refusal the browser can show: which field, and why.
#[derive(Debug, PartialEq)]
struct Refusal {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
}

impl Refusal {
    fn field(field: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            field: Some(field),
            message: message.into(),
        }
    }
}

fn read(headers: &HeaderMap, body: &[u8]) -> Result<Submission, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields =
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map_err(|_| Refusal {
                status: StatusCode::BAD_REQUEST,
                field: None,
                message: "the form data could not be read".into(),
            })?;
        Ok(Submission { fields })
    } else if content_type.starts_with("application/json") {
        let map = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
            .map_err(|_| Refusal {
                status: StatusCode::BAD_REQUEST,
                field: None,
                message: "the body is not a JSON object".into(),
            })?;
        let mut fields = Vec::with_capacity(map.len());
        for (k, v) in map {
            match v {
                serde_json::Value::String(s) => fields.push((k, s)),
                serde_json::Value::Null => {}
                _ => {
                    return Err(Refusal {
                        status: StatusCode::BAD_REQUEST,
                        field: None,
                        message: format!("the field {k:?} must be text"),
                    })
                }
            }
        }
        Ok(Submission { fields })
    } else {
        Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            field: None,
            message: "send application/x-www-form-urlencoded or application/json".into(),
        })
    }
}

/// Turns a submission into an envelope, naming the first field that is missing or wrong.
fn envelope(
    submission: &Submission,
    reference: &ThreadId,
    arrived_at: chrono::DateTime<chrono::Utc>,
) -> Result<Envelope, Refusal> {
    let message = submission
        .get("message")
        .ok_or_else(|| Refusal::field("message", "the field \"message\" is missing"))?;
    let email_text = submission
        .get("email")
        .ok_or_else(|| Refusal::field("email", "the field \"email\" is missing"))?;
    let email = EmailAddress::parse(email_text)
        .map_err(|_| Refusal::field("email", "the field \"email\" is not an email address"))?;
    let mut addresses = vec![Address::Email(email.clone())];
    if let Some(phone) = submission.get("phone") {
        let phone = PhoneNumber::parse(phone).map_err(|_| {
            Refusal::field("phone", "the field \"phone\" is not a phone number in international form, like +33 6 12 34 56 78")
        })?;
        addresses.push(Address::Phone(phone));
    }
    let name = submission
        .get("name")
        .map(|n| n.chars().take(MAX_NAME_CHARS).collect::<String>());
    let sender = Sender::new(name, addresses).expect("an email address is always present");
    Ok(Envelope {
        channel: Channel::Webform,
        provider_id: ProviderMessageId::parse(reference.as_str())
            .expect("a thread id is never empty"),
        // A form has no clock of its own: it was sent when it reached us.
        sent_at: arrived_at,
        sender,
        text: message.to_string(),
        attachments: Vec::new(),
        reply_to: ReplyTarget::Webform(Target {
            email,
            reference: reference.clone(),
        }),
    })
}

async fn submit(State(form): State<Arc<Form>>, request: Request) -> Response {
    let inbound = &form.inbound;
    let connect = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let (parts, body) = match read_body(request).await {
        Ok(read) => read,
        Err(too_large) => return too_large,
    };
    let lang = inbound.config.business.language;
    let wants_json = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));

    if let Some(ip) = client_ip(connect.as_ref(), &parts.headers) {
        if !form.limiter.allow(ip) {
            tracing::info!(channel = "webform", "rate limit reached for a client");
            let refusal = Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                field: None,
                message: "too many messages from this address; please try again in a minute".into(),
            };
            let mut response = refuse(lang, wants_json, &refusal);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            return response;
        }
    }

    let submission = match read(&parts.headers, &body) {
        Ok(s) => s,
        Err(refusal) => return refuse(lang, wants_json, &refusal),
    };
    let reference = ThreadId::generate();
    if submission.get(&form.honeypot_field).is_some() {
        // A robot filled the field people never see: thank it like anyone
        // else so it learns nothing, but keep and answer nothing.
        tracing::info!(channel = "webform", "honeypot filled; submission dropped");
        return thank(lang, wants_json, &inbound.config.business.name, &reference);
    }
    let envelope = match envelope(&submission, &reference, inbound.clock.now()) {
        Ok(e) => e,
        Err(refusal) => return refuse(lang, wants_json, &refusal),
    };
    if let Err(unavailable) = inbound.enqueue(&[Job::Message(envelope)]).await {
        return unavailable;
    }
    tracing::info!(channel = "webform", reference = %reference, "submission queued");
    thank(lang, wants_json, &inbound.config.business.name, &reference)
}

fn thank(lang: Language, wants_json: bool, business: &str, reference: &ThreadId) -> Response {
    if wants_json {
        return Json(json!({ "status": "received", "reference": reference })).into_response();
    }
    let business = html_escape::encode_text(business);
    let (title, line, ref_label) = match lang {
        Language::Fr => (
            "Merci !",
            "Votre message est bien arrivé. Vous allez recevoir un email de confirmation.",
            "Votre référence",
        ),
        Language::En => (
            "Thank you!",
            "Your message has arrived. You will receive a confirmation email.",
            "Your reference",
        ),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title} – {business}</title></head>\n<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>{title}</h1><p>{line}</p><p>{ref_label} : <strong>{reference}</strong></p><p>{business}</p></body></html>\n",
        code = lang.code()
    ))
    .into_response()
}

fn refuse(lang: Language, wants_json: bool, refusal: &Refusal) -> Response {
    if wants_json {
        return (
            refusal.status,
            Json(json!({ "status": "refused", "field": refusal.field, "error": refusal.message })),
        )
            .into_response();
    }
    let title = match lang {
        Language::Fr => "Message non envoyé",
        Language::En => "Message not sent",
    };
    let message = html_escape::encode_text(&refusal.message);
    (
        refusal.status,
        Html(format!(
            "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>{title}</h1><p>{message}</p><p><a href=\"javascript:history.back()\">←</a></p></body></html>\n",
            code = lang.code()
        )),
    )
        .into_response()
}

/// The acknowledgement of a form submission: an email to the address given.
fn acknowledgement(
    config: &Config,
    envelope: &Envelope,
    to: &EmailAddress,
    text: &AckText,
) -> OutgoingEmail {
    let html = format!(
        "<!doctype html>\n<html><body style=\"font-family:sans-serif\">{}</body></html>\n",
        text.body
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", html_escape::encode_text(p)))
            .collect::<String>()
    );
    email::compose(&Draft {
        from_name: &config.business.name,
        from: &config.business.sender_email,
        to_name: envelope.sender.name.as_deref(),
        to,
        subject: &text.subject,
        text: &text.body,
        html: &html,
        date: envelope.sent_at,
        auto_reply: true,
        id: Some(&acknowledgement_id(envelope.provider_id.as_str())),
        references: &[],
    })
}

/// The left part of the Message-ID of a submission's acknowledgement:
/// known from the submission, so that the owner's reply can thread under it.
fn acknowledgement_id(provider_id: &str) -> String {
    format!("ack.{provider_id}")
}

/// The owner's reply: a person's email (no automatic-reply marks), under
/// the acknowledgements and replies the customer received before.
fn owner_reply(
    config: &Config,
    thread: &ThreadWithMessages,
    to: &EmailAddress,
    reply: &Message,
) -> OutgoingEmail {
    let domain = email::domain_of(&config.business.sender_email);
    let references: Vec<String> = thread
        .messages
        .iter()
        .filter(|m| m.provider_id != reply.provider_id)
        .filter(|m| m.acknowledgement.as_ref().is_some_and(|a| a.state == AckState::Sent))
        .map(|m| match m.author {
            Author::Customer => email::message_id(&acknowledgement_id(m.provider_id.as_str()), domain),
            Author::Owner => email::message_id(m.provider_id.as_str(), domain),
        })
        .collect();
    let subject = format!("Re: {}", ack::subject(config));
    let html = format!(
        "<!doctype html>\n<html><body style=\"font-family:sans-serif\">{}</body></html>\n",
        reply
            .text
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", html_escape::encode_text(p).replace('\n', "<br>")))
            .collect::<String>()
    );
    email::compose(&Draft {
        from_name: &config.business.name,
        from: &config.business.sender_email,
        to_name: thread.thread.contact.name.as_deref(),
        to,
        subject: &subject,
        text: &reply.text,
        html: &html,
        date: reply.sent_at,
        auto_reply: false,
        id: Some(reply.provider_id.as_str()),
        references: &references,
    })
}

/// A submission as a browser posts it, asking for JSON back.
fn sample(sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
    EmailAddress::parse(sample.from).map_err(|_| SampleError::From {
        from: sample.from.to_string(),
        expected: "an email address",
    })?;
    let mut fields = vec![("email", sample.from), ("message", sample.text)];
    if let Some(name) = sample.name {
        fields.push(("name", name));
    }
    let body = serde_urlencoded::to_string(&fields).expect("text fields encode");
    Ok(SampleRequest {
        path: PATH,
        headers: vec![
            ("content-type", "application/x-www-form-urlencoded".into()),
            ("accept", "application/json".into()),
        ],
        body: body.into_bytes(),
    })
}

/// The owner's mail client, answering the address the form gave under the
/// thread's reference.
fn reply_link(thread: &ThreadId, addresses: &[&Address]) -> Option<String> {
    addresses.iter().find_map(|a| match a {
        Address::Email(e) => Some(format!("mailto:{e}?subject={thread}")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<Submission, Refusal> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        read(&headers, body.as_bytes())
    }

    fn json_body(body: &str) -> Result<Submission, Refusal> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        read(&headers, body.as_bytes())
    }

    fn envelope_of(s: Submission) -> Result<Envelope, Refusal> {
        envelope(&s, &ThreadId::generate(), chrono::Utc::now())
    }

    #[test]
    fn both_encodings_give_the_same_envelope() {
        let reference = ThreadId::generate();
        let now = chrono::Utc::now();
        let a = form("name=Zo%C3%A9&email=zoe%40example.com&phone=%2B33+6+12+34+56+78&message=Un+g%C3%A2teau+pour+samedi+%3F").unwrap();
        let b = json_body(r#"{"name":"Zoé","email":"zoe@example.com","phone":"+33 6 12 34 56 78","message":"Un gâteau pour samedi ?"}"#).unwrap();
        let (ea, eb) = (
            envelope(&a, &reference, now).unwrap(),
            envelope(&b, &reference, now).unwrap(),
        );
        assert_eq!(ea, eb);
        assert_eq!(ea.text, "Un gâteau pour samedi ?");
        assert_eq!(ea.sender.name.as_deref(), Some("Zoé"));
        assert_eq!(ea.sender.addresses().len(), 2);
        assert_eq!(ea.provider_id.as_str(), reference.as_str());
    }

    #[test]
    fn each_missing_or_wrong_field_is_named() {
        let missing = envelope_of(form("email=zoe%40example.com").unwrap()).unwrap_err();
        assert_eq!(
            (missing.status, missing.field),
            (StatusCode::BAD_REQUEST, Some("message"))
        );
        let missing = envelope_of(form("message=hi&email=++").unwrap()).unwrap_err();
        assert_eq!(missing.field, Some("email"));
        assert!(missing.message.contains("missing"));
        let wrong = envelope_of(form("message=hi&email=zoe").unwrap()).unwrap_err();
        assert_eq!(wrong.field, Some("email"));
        let wrong = envelope_of(form("message=hi&email=zoe%40example.com&phone=call+me").unwrap())
            .unwrap_err();
        assert_eq!(wrong.field, Some("phone"));
    }

    #[test]
    fn other_encodings_and_non_text_json_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            read(&headers, b"hi").unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            json_body("[1]").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(json_body(r#"{"message": 3}"#)
            .unwrap_err()
            .message
            .contains("message"));
    }

    #[test]
    fn the_rate_limit_is_per_address() {
        let limiter = RateLimiter::per_minute(2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(limiter.allow(a) && limiter.allow(a));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
