//! Decoding a client's frame into a typed enum, with an error precise enough to send back.

use crate::error::{ErrorCode, ErrorFrame};
use crate::frames::Frame;
use crate::limits::MAX_FRAME_BYTES;

/// Why a frame could not be decoded. Converts into the `error` frame the relay answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
    /// The frame's `id` or `ref`, when it could be read, so the client can match the error.
    pub reference: Option<String>,
}

impl From<DecodeError> for ErrorFrame {
    fn from(e: DecodeError) -> Self {
        ErrorFrame { code: e.code, message: e.message, reference: e.reference, retry_after_ms: None }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Decode one text frame. Distinguishes, in this order: too large, not a JSON object with a string
/// `type`, a type this socket doesn't know, and a known type with bad fields.
pub fn decode_frame<F: Frame>(text: &str) -> Result<F, DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError {
            code: ErrorCode::FrameTooLarge,
            message: format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES} bytes",
                text.len()
            ),
            reference: None,
        });
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::MalformedFrame,
        message: format!("frame is not valid JSON ({e})"),
        reference: None,
    })?;
    let Some(object) = value.as_object() else {
        return Err(DecodeError {
            code: ErrorCode::MalformedFrame,
            message: "frame must be a JSON object".into(),
            reference: None,
        });
    };
    let reference = ["id", "ref"]
        .iter()
        .find_map(|k| object.get(*k).and_then(|v| v.as_str()))
        .map(str::to_owned);
    let Some(kind) = object.get("type").and_then(|t| t.as_str()).map(str::to_owned) else {
        return Err(DecodeError {
            code: ErrorCode::MalformedFrame,
            message: "frame must have a string field \"type\"".into(),
            reference,
        });
    };
    match serde_json::from_value::<F>(value) {
        Ok(frame) if frame.is_unknown() => Err(DecodeError {
            code: ErrorCode::UnknownFrameType,
            message: format!("unknown frame type \"{kind}\""),
            reference,
        }),
        Ok(frame) => Ok(frame),
        Err(e) => Err(DecodeError {
            code: ErrorCode::InvalidFrame,
            message: format!("invalid \"{kind}\" frame: {e}"),
            reference,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::visitor::VisitorClientFrame;

    #[test]
    fn unknown_type_is_reported_with_its_name_and_ref() {
        let e = decode_frame::<VisitorClientFrame>(r#"{"type":"dance","ref":"r1"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownFrameType);
        assert!(e.message.contains("dance"));
        assert_eq!(e.reference.as_deref(), Some("r1"));
    }

    #[test]
    fn bad_json_is_malformed() {
        let e = decode_frame::<VisitorClientFrame>("{not json").unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedFrame);
    }

    #[test]
    fn non_object_and_missing_type_are_malformed() {
        for text in ["[1,2]", "\"hello\"", r#"{"text":"hi"}"#, r#"{"type":3}"#] {
            let e = decode_frame::<VisitorClientFrame>(text).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedFrame, "{text}");
        }
    }

    #[test]
    fn known_type_with_missing_field_is_invalid_and_keeps_the_message_id() {
        let e = decode_frame::<VisitorClientFrame>(r#"{"type":"send","id":"m1"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFrame);
        assert!(e.message.contains("text"), "{}", e.message);
        assert_eq!(e.reference.as_deref(), Some("m1"));
    }

    #[test]
    fn oversized_frame_is_refused_before_parsing() {
        let text = format!(r#"{{"type":"send","id":"m","text":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES));
        let e = decode_frame::<VisitorClientFrame>(&text).unwrap_err();
        assert_eq!(e.code, ErrorCode::FrameTooLarge);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let f = decode_frame::<VisitorClientFrame>(r#"{"type":"read","up_to":4,"future":true}"#).unwrap();
        assert_eq!(f, VisitorClientFrame::Read { up_to: 4 });
    }
}
