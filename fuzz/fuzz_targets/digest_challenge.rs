//! Arbitrary bytes as a `WWW-Authenticate` value: the Digest challenge parser,
//! then answering it and verifying the answer (and the input itself, as a
//! hostile `Authorization` header) with fixed credentials.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_onvif::auth::{Credentials, DigestChallenge};

const PASSWORD: &str = "Circle of Life";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(challenge) = DigestChallenge::parse(text) else {
        return;
    };
    let credentials = Credentials::new("Mufasa", PASSWORD);
    let authorization =
        challenge.authorization(&credentials, "POST", "/onvif/ptz_service", 1, "0a4f113b");
    // Our own answer must verify against the challenge it answers.
    assert_eq!(
        challenge
            .verify(&authorization, "POST", PASSWORD)
            .as_deref(),
        Some("Mufasa"),
        "authorization {authorization:?} does not verify against {challenge:?}"
    );
    let _ = challenge.verify(&authorization, "POST", "wrong");
    let _ = challenge.verify(text, "POST", PASSWORD);
    let _ = DigestChallenge::parse(&challenge.to_header());
});
