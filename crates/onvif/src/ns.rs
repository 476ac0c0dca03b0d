//! Namespace URIs of the ONVIF and SOAP vocabularies we read and write.
//!
//! Prefixes are ours to choose when writing; when reading, only URIs count.

/// SOAP 1.2 envelope.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope, still answered by some old devices.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// ONVIF common schema (`tt`).
pub const TT: &str = "http://www.onvif.org/ver10/schema";
/// ONVIF device management (`tds`).
pub const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
/// ONVIF media v1 (`trt`).
pub const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
/// ONVIF media v2 (`tr2`).
pub const TR2: &str = "http://www.onvif.org/ver20/media/wsdl";
/// ONVIF PTZ (`tptz`).
pub const TPTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
/// ONVIF fault subcodes (`ter`).
pub const TER: &str = "http://www.onvif.org/ver10/error";
/// WS-Security secext (`wsse`).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility (`wsu`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// UsernameToken profile: the `Type` of a digest password.
pub const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
/// UsernameToken profile: the `Type` of a plain-text password.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
/// Message security: the `EncodingType` of a Base64 nonce.
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Generic pan/tilt position space: [-1, 1] on both axes.
pub const SPACE_PT_POSITION: &str =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace";
/// Generic zoom position space: [0, 1].
pub const SPACE_ZOOM_POSITION: &str =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace";
/// Generic pan/tilt translation space (relative moves).
pub const SPACE_PT_TRANSLATION: &str =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace";
/// Generic zoom translation space (relative moves).
pub const SPACE_ZOOM_TRANSLATION: &str =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace";
/// Generic pan/tilt velocity space (continuous moves).
pub const SPACE_PT_VELOCITY: &str =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace";
/// Generic zoom velocity space (continuous moves).
pub const SPACE_ZOOM_VELOCITY: &str =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace";
/// Generic pan/tilt speed space.
pub const SPACE_PT_SPEED: &str = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/GenericSpeedSpace";
/// Generic zoom speed space.
pub const SPACE_ZOOM_SPEED: &str =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/ZoomGenericSpeedSpace";

/// The namespace declarations every envelope we write carries.
pub const DECLARATIONS: &str = concat!(
    r#"xmlns:env="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:tt="http://www.onvif.org/ver10/schema" "#,
    r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl" "#,
    r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" "#,
    r#"xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" "#,
    r#"xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" "#,
    r#"xmlns:ter="http://www.onvif.org/ver10/error""#,
);

/// Our prefix for a namespace, for display.
pub fn prefix_of(uri: &str) -> Option<&'static str> {
    Some(match uri {
        SOAP12 | SOAP11 => "env",
        TT => "tt",
        TDS => "tds",
        TRT => "trt",
        TR2 => "tr2",
        TPTZ => "tptz",
        TER => "ter",
        _ => return None,
    })
}
