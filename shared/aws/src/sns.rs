//! Text messages through SNS `Publish` to a phone number.

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use accueil_core::domain::PhoneNumber;
use accueil_core::ports::{SendError, SmsSender};

use crate::describe;

pub struct SnsTexter {
    client: Client,
}

impl SnsTexter {
    pub fn new(client: Client) -> SnsTexter {
        SnsTexter { client }
    }
}

#[async_trait]
impl SmsSender for SnsTexter {
    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<String, SendError> {
        // Transactional: delivered even to numbers that opted out of promotions,
        // and priced for reliability rather than cost.
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .expect("data type is set");
        let out = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", kind)
            .send()
            .await
            .map_err(|e| {
                let rejected = e
                    .as_service_error()
                    .is_some_and(|se| se.is_invalid_parameter_exception());
                if rejected {
                    SendError::Rejected(describe(&e))
                } else {
                    SendError::Transient(describe(&e))
                }
            })?;
        Ok(out.message_id.unwrap_or_else(|| "published".into()))
    }
}
