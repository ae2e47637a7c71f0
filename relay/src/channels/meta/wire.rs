//! Tolerant reads from Meta's JSON. Meta documents most numbers as strings (WhatsApp timestamps,
//! `file_size`) and sends some ids as numbers (Messenger `app_id`); accept both everywhere rather
//! than lose an item to a type mismatch.

use serde_json::Value;

/// A string, or a number written as a string.
pub(crate) fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-empty string (or number), for fields where `""` means absent.
pub(crate) fn non_empty(v: Option<&Value>) -> Option<String> {
    string(v).filter(|s| !s.is_empty())
}

/// An integer, or an integer written as a string.
pub(crate) fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A float, or a float written as a string.
pub(crate) fn float(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The items of an array field; nothing when absent or not an array.
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
