//! Arbitrary bytes into `shared::decode_frame`, as each socket kind decodes them.
//!
//! Checks, for the two client→relay frame enums (what the relay decodes from untrusted sockets) and
//! the two relay→client enums (what the dashboard decodes):
//! - decoding never panics, whatever the bytes (text frames only: non-UTF-8 input is skipped, as a
//!   WebSocket text frame is UTF-8 by definition and the relay answers binary frames without decoding);
//! - a frame that decodes re-encodes to JSON that decodes to the very same frame (with
//!   `serde_json` always, and with `decode_frame` when the re-encoding is within the frame limit:
//!   the re-encoding may legitimately be longer, e.g. defaulted fields written out);
//! - a refusal carries the `id`/`ref` of the input when the input had one as a top-level string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::frames::Frame;
use shared::limits::MAX_FRAME_BYTES;
use shared::{decode_frame, AdvisorClientFrame, AdvisorServerFrame, ErrorCode, VisitorClientFrame, VisitorServerFrame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check::<VisitorClientFrame>(text);
    check::<AdvisorClientFrame>(text);
    check::<VisitorServerFrame>(text);
    check::<AdvisorServerFrame>(text);
});

fn check<F>(text: &str)
where
    F: Frame + serde::Serialize + PartialEq + std::fmt::Debug,
{
    match decode_frame::<F>(text) {
        Ok(frame) => {
            assert!(text.len() <= MAX_FRAME_BYTES, "a frame over the limit was accepted");
            assert!(!frame.is_unknown(), "decode_frame returned the Unknown variant");
            let encoded = serde_json::to_string(&frame).expect("a decoded frame re-encodes");
            let again: F = serde_json::from_str(&encoded)
                .unwrap_or_else(|e| panic!("re-encoded frame does not decode: {e}\ninput: {text}\nencoded: {encoded}"));
            assert_eq!(again, frame, "round trip changed the frame\ninput: {text}\nencoded: {encoded}");
            if encoded.len() <= MAX_FRAME_BYTES {
                let again = decode_frame::<F>(&encoded)
                    .unwrap_or_else(|e| panic!("decode_frame refuses its own encoding: {e}\ninput: {text}\nencoded: {encoded}"));
                assert_eq!(again, frame, "decode_frame round trip changed the frame\nencoded: {encoded}");
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "a refusal without a message");
            if text.len() > MAX_FRAME_BYTES {
                assert_eq!(e.code, ErrorCode::FrameTooLarge);
                return;
            }
            // The reference is taken from a top-level string `id` or `ref`, when the input is an object.
            if let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(text) {
                let expected = ["id", "ref"].iter().find_map(|k| object.get(*k).and_then(|v| v.as_str()));
                assert_eq!(e.reference.as_deref(), expected, "refusal lost the frame's id/ref: {text}");
            } else {
                assert_eq!(e.code, ErrorCode::MalformedFrame, "non-JSON input refused as {:?}", e.code);
            }
        }
    }
}
