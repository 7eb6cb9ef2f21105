//! Email through SES `SendRawEmail`, so the MIME Accueil builds — threading
//! headers, Auto-Submitted, both parts — reaches the customer unchanged.

use async_trait::async_trait;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use aws_sdk_ses::Client;

use accueil_core::email::OutgoingEmail;
use accueil_core::ports::{Mailer, SendError};

use crate::describe;

pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    pub fn new(client: Client) -> SesMailer {
        SesMailer { client }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let raw = RawMessage::builder()
            .data(Blob::new(email.raw.clone()))
            .build()
            .expect("data is set");
        let out = self
            .client
            .send_raw_email()
            .source(email.from.as_str())
            .destinations(email.to.as_str())
            .raw_message(raw)
            .send()
            .await
            .map_err(|e| {
                let rejected = e.as_service_error().is_some_and(|se| {
                    se.is_message_rejected() || se.is_mail_from_domain_not_verified_exception()
                });
                // The error names the cause, never the recipient.
                let text = describe(&e);
                if rejected {
                    SendError::Rejected(text)
                } else {
                    SendError::Transient(text)
                }
            })?;
        Ok(out.message_id)
    }
}
