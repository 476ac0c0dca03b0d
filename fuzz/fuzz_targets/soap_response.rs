//! Arbitrary bytes as a SOAP answer (or request): the envelope parser, every
//! body reader, the simulator's request parser and the WS-Security header
//! reader; and the streaming `GetPresets` reader against the tree's: where
//! the tree reads presets, the stream must read the same ones. Errors are
//! expected; a panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_onvif::auth::UsernameToken;
use tandem_onvif::message::{self, Request};
use tandem_onvif::soap::Envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let streamed = message::read_presets_answer(text);
    let Ok(envelope) = Envelope::parse(text) else {
        return;
    };
    if let Ok(presets) = envelope
        .expect(tandem_onvif::ns::TPTZ, "GetPresetsResponse")
        .and_then(message::read_presets)
    {
        match streamed {
            Ok(streamed) => assert_eq!(streamed, presets, "the stream read other presets"),
            Err(e) => panic!("the tree read {} presets, the stream refused: {e}", presets.len()),
        }
    }
    if let Some(token) = envelope.header().and_then(UsernameToken::from_header) {
        let _ = token.verifies("fuzz-password");
    }
    // A fault is an `Err` here, built by the fault reader: also exercised.
    let Ok(body) = envelope.body_element() else {
        return;
    };
    let _ = message::read_system_date_and_time(body);
    let _ = message::read_services(body);
    let _ = message::read_capabilities(body);
    let _ = message::read_device_information(body);
    let _ = message::read_profiles(body);
    let _ = message::read_snapshot_uri(body);
    let _ = message::read_nodes(body);
    let _ = message::read_node(body);
    let _ = message::read_configurations(body);
    let _ = message::read_service_capabilities(body);
    let _ = message::read_presets(body);
    let _ = message::read_preset_token(body);
    let _ = message::read_status(body);
    let _ = message::read_empty(body);
    if let Ok(Some(request)) = Request::parse(body) {
        // What the simulator does next with a request it understood.
        let _ = request.to_xml();
        let _ = request.response_element();
    }
});
