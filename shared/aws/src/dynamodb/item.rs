//! Reading and writing DynamoDB attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use accueil_core::ports::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// Fixed-width UTC text: string order is time order, as sort keys need.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Builds an item from pairs.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn corrupt(key: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute {key} missing or of the wrong type"))
}

pub fn get_s<'a>(item: &'a Item, key: &str) -> Result<&'a str, StoreError> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(key))
}

pub fn get_opt_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n<T: std::str::FromStr>(item: &Item, key: &str) -> Result<T, StoreError> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(key))
}

pub fn get_time(item: &Item, key: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(get_s(item, key)?, key)
}

pub fn get_opt_time(item: &Item, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    get_opt_s(item, key).map(|t| parse_time(t, key)).transpose()
}

pub fn parse_time(t: &str, key: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt(key))
}

pub fn get_list_s(item: &Item, key: &str) -> Result<Vec<String>, StoreError> {
    match item.get(key) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt(key)))
            .collect(),
        Some(_) => Err(corrupt(key)),
    }
}
