//! Conversions between stored text and numbers and the domain's types, shared
//! by both backends: timestamps are fixed-width RFC 3339 text in either, so
//! text order is time order and a row reads back the same from both.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tandem_core::PresetNumber;

use crate::error::StoreError;

/// The fixed-width RFC 3339 form of every `_utc` column (see schema/v1.sql).
pub(crate) fn fmt_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_utc(text: &str, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?} is not RFC 3339: {e}")))
}

pub(crate) fn parse_json(text: &str, column: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{column} is not valid JSON: {e}")))
}

pub(crate) fn number_from_row(n: i64, column: &str) -> Result<PresetNumber, StoreError> {
    u32::try_from(n)
        .ok()
        .and_then(|n| PresetNumber::new(n).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{column} {n} is not a preset number")))
}

pub(crate) fn spelled<T>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    column: &str,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?} is not known")))
}

pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
