//! The answers of a `hostile` camera: the envelope a normal camera would send,
//! mangled in one of the ways of [`Hostility`], so that the client is tested
//! against broken and malicious devices and not only against polite ones.
//!
//! The request is still carried out (a device whose firmware or proxy breaks
//! its answers has usually done the work); only the answer is attacked. Every
//! mangled answer has HTTP status 200, so that the client cannot fall back on
//! the status and must judge the body itself.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::quirks::{Hostility, OVERSIZED_BYTES};

/// The namespace a `namespace` answer puts its body element in: no ONVIF
/// namespace, so the client must not take it for the answer it expects.
pub const HOSTILE_NS: &str = "urn:tandem-sim:hostile";

/// Size of one padding chunk of an oversized answer.
const CHUNK_BYTES: usize = 64 * 1024;

/// One XML comment of exactly [`CHUNK_BYTES`], built at compile time so that
/// streaming an oversized answer allocates nothing per chunk.
static PADDING: [u8; CHUNK_BYTES] = padding();

const fn padding() -> [u8; CHUNK_BYTES] {
    let mut chunk = [b'x'; CHUNK_BYTES];
    let open = b"<!--";
    let close = b"-->";
    let mut i = 0;
    while i < open.len() {
        chunk[i] = open[i];
        i += 1;
    }
    let mut j = 0;
    while j < close.len() {
        chunk[CHUNK_BYTES - close.len() + j] = close[j];
        j += 1;
    }
    chunk
}

/// A mangled answer.
pub(crate) enum Mangled {
    /// A whole body, sent with its length.
    Whole(String),
    /// An oversized envelope, streamed chunk by chunk.
    Stream(OversizedBody),
}

/// Mangles `envelope`, the SOAP envelope (answer or fault) a normal camera
/// would have sent. `kind` is a concrete kind: `Mixed` is resolved by the
/// camera ([`crate::world::CameraOnSite::next_hostility`]); given here, it
/// counts as `Malformed`.
pub(crate) fn mangle(kind: Hostility, envelope: &str) -> Mangled {
    match kind {
        Hostility::Malformed | Hostility::Mixed => Mangled::Whole(malformed(envelope)),
        Hostility::Truncated => Mangled::Whole(truncated(envelope).to_string()),
        Hostility::Oversized => Mangled::Stream(OversizedBody::new(envelope)),
        Hostility::Namespace => Mangled::Whole(wrong_namespace(envelope)),
        Hostility::Entity => Mangled::Whole(entity_bomb(envelope)),
    }
}

/// Where the first element of the SOAP body starts, and where its name ends.
fn body_element(envelope: &str) -> Option<(usize, usize)> {
    const BODY: &str = "<env:Body>";
    let start = envelope.find(BODY)? + BODY.len();
    if !envelope[start..].starts_with('<') {
        return None;
    }
    let name_len = envelope[start..].find([' ', '>', '/'])?;
    Some((start, start + name_len))
}

/// The envelope's head up to the body element, then a preset whose tags
/// close in the wrong order, then stray markup: not well-formed.
fn malformed(envelope: &str) -> String {
    let head = match body_element(envelope) {
        Some((start, _)) => &envelope[..start],
        None => {
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>"#
        }
    };
    format!(
        r#"{head}<tptz:GetPresetsResponse xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl"><tptz:Preset token="1"><tt:Name>Gate</tptz:Preset></env:Body></env:Envelope><<&]]>"#
    )
}

/// The first half of the envelope, cut at a character boundary.
fn truncated(envelope: &str) -> &str {
    let mut cut = envelope.len() / 2;
    while !envelope.is_char_boundary(cut) {
        cut -= 1;
    }
    &envelope[..cut]
}

/// The envelope with its body element's prefix bound to [`HOSTILE_NS`], so
/// that the element (and its descendants with that prefix) are in a
/// namespace no client expects, while the document stays well-formed.
fn wrong_namespace(envelope: &str) -> String {
    let Some((start, name_end)) = body_element(envelope) else {
        return malformed(envelope);
    };
    let name = &envelope[start + 1..name_end];
    let declaration = match name.split_once(':') {
        Some((prefix, _)) => format!(r#" xmlns:{prefix}="{HOSTILE_NS}""#),
        None => format!(r#" xmlns="{HOSTILE_NS}""#),
    };
    let mut out = String::with_capacity(envelope.len() + declaration.len());
    out.push_str(&envelope[..name_end]);
    out.push_str(&declaration);
    out.push_str(&envelope[name_end..]);
    out
}

/// The envelope with a DTD of ten entities, each expanding to ten of the
/// previous one (10^9 copies of "lol" in all), referenced from the body: a
/// parser that expands entities would need gigabytes.
fn entity_bomb(envelope: &str) -> String {
    let mut dtd = String::from("<!DOCTYPE env:Envelope [<!ENTITY lol0 \"lol\">");
    for level in 1..=9 {
        dtd.push_str(&format!("<!ENTITY lol{level} \""));
        for _ in 0..10 {
            dtd.push_str(&format!("&lol{};", level - 1));
        }
        dtd.push_str("\">");
    }
    dtd.push_str("]>");
    // After the XML declaration, where a DTD belongs.
    let (declaration, rest) = match envelope.find("?>") {
        Some(end) if envelope.starts_with("<?xml") => envelope.split_at(end + 2),
        _ => ("", envelope),
    };
    let mut document = format!("{declaration}{dtd}{rest}");
    if let Some((start, _)) = body_element(&document) {
        document.insert_str(start, "&lol9;");
    }
    document
}

/// A well-formed envelope of a little more than [`OVERSIZED_BYTES`]: the
/// normal answer, then XML comments of padding before `</env:Body>`, produced
/// one chunk at a time. Its size is not announced (no `Content-Length`): the
/// client must count.
pub(crate) struct OversizedBody {
    head: Option<Bytes>,
    chunks_left: usize,
    tail: Option<Bytes>,
}

impl OversizedBody {
    fn new(envelope: &str) -> Self {
        const TAIL: &str = "</env:Body></env:Envelope>";
        let head = envelope.strip_suffix(TAIL).unwrap_or(envelope);
        OversizedBody {
            head: Some(Bytes::from(head.to_string())),
            chunks_left: OVERSIZED_BYTES.div_ceil(CHUNK_BYTES),
            tail: Some(Bytes::from_static(TAIL.as_bytes())),
        }
    }
}

impl Body for OversizedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let next = if let Some(head) = this.head.take() {
            Some(head)
        } else if this.chunks_left > 0 {
            this.chunks_left -= 1;
            Some(Bytes::from_static(&PADDING))
        } else {
            this.tail.take()
        };
        Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.chunks_left == 0 && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Deliberately inexact, so that hyper sends no Content-Length.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> String {
        tandem_onvif::soap::envelope(
            None,
            r#"<tptz:GetPresetsResponse><tptz:Preset token="1"><tt:Name>Gate</tt:Name></tptz:Preset></tptz:GetPresetsResponse>"#,
        )
    }

    fn whole(kind: Hostility) -> String {
        match mangle(kind, &answer()) {
            Mangled::Whole(text) => text,
            Mangled::Stream(_) => panic!("{kind:?} is not streamed"),
        }
    }

    #[test]
    fn the_normal_answer_parses_and_every_mangled_one_does_not() {
        assert!(tandem_onvif::xml::parse(&answer()).is_ok());
        for kind in [
            Hostility::Malformed,
            Hostility::Truncated,
            Hostility::Entity,
        ] {
            let text = whole(kind);
            assert!(tandem_onvif::xml::parse(&text).is_err(), "{kind:?}: {text}");
        }
    }

    #[test]
    fn namespace_answer_is_well_formed_with_the_body_element_elsewhere() {
        let text = whole(Hostility::Namespace);
        let doc = tandem_onvif::xml::parse(&text).expect("well-formed");
        let element = doc
            .descendants()
            .find(|n| n.tag_name().name() == "GetPresetsResponse")
            .expect("body element");
        assert_eq!(element.tag_name().namespace(), Some(HOSTILE_NS));
    }

    #[test]
    fn entity_answer_declares_nested_entities_and_uses_the_deepest() {
        let text = whole(Hostility::Entity);
        assert!(text.starts_with("<?xml"), "{text}");
        assert!(text.contains("<!ENTITY lol9 \"&lol8;&lol8;"), "{text}");
        assert!(text.contains("<env:Body>&lol9;"), "{text}");
    }

    #[test]
    fn oversized_answer_streams_a_well_formed_envelope_over_the_cap() {
        let Mangled::Stream(mut body) = mangle(Hostility::Oversized, &answer()) else {
            panic!("oversized is streamed");
        };
        assert!(body.size_hint().exact().is_none());
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut text = Vec::new();
        let mut frames = 0;
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            frames += 1;
            text.extend_from_slice(frame.data_ref().expect("data"));
        }
        assert!(body.is_end_stream());
        assert!(text.len() > OVERSIZED_BYTES, "{}", text.len());
        assert!(frames > 2, "sent in chunks");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(tandem_onvif::xml::parse(&text).is_ok());
    }
}
