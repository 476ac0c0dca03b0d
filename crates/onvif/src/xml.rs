//! Safe XML reading and escaping for writing.
//!
//! Everything a device sends is hostile until parsed: documents with a DTD are
//! refused (no entity expansion), the number of nodes and the nesting depth are
//! bounded, and lookups match namespace URIs, never prefixes.

use std::borrow::Cow;

pub use roxmltree::Node;
use roxmltree::{Document, ParsingOptions};

use crate::error::{Error, Result};

/// Most nodes a document may have: far above any real answer (a 64-preset
/// `GetPresets` is about 1,000 nodes), far below what exhausts memory.
const MAX_NODES: u32 = 500_000;
/// Deepest element nesting accepted; real ONVIF answers stay under 20.
const MAX_DEPTH: usize = 64;

/// Parses `text` as XML with the limits above.
pub fn parse(text: &str) -> Result<Document<'_>> {
    check_depth(text)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    Document::parse_with_options(text, options)
        .map_err(|e| Error::Malformed(format!("XML: {}", explain(&e))))
}

/// The parser's error in words that say what the device did, for the cases
/// a hostile or broken device produces; the parser's own text otherwise.
fn explain(e: &roxmltree::Error) -> String {
    use roxmltree::Error as E;
    match e {
        E::DtdDetected => {
            "the document declares a DTD, which is refused (entities are never expanded)".into()
        }
        E::UnexpectedEndOfStream | E::UnclosedRootNode => {
            format!("the document ends early (cut off?): {e}")
        }
        E::NodesLimitReached => format!("the document has more than {MAX_NODES} nodes"),
        other => other.to_string(),
    }
}

/// Refuses very deep nesting before building a tree, so that no later step
/// (ours or the parser's) can be driven into deep recursion. Quoted attribute
/// values, comments and CDATA are skipped so they cannot hide markup.
fn check_depth(text: &str) -> Result<()> {
    let bytes = text.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        let rest = &bytes[i + offset..];
        let skip_to = |pattern: &[u8]| find(rest, pattern).map(|p| p + pattern.len());
        let consumed = if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_to(b"]]>")
        } else if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            skip_to(b">")
        } else {
            let end = tag_end(rest);
            if let Some(end) = end {
                if rest.get(1) == Some(&b'/') {
                    depth = depth.saturating_sub(1);
                } else if rest[end - 1] != b'/' {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Error::Malformed(format!(
                            "XML nested deeper than {MAX_DEPTH} levels"
                        )));
                    }
                }
            }
            end.map(|e| e + 1)
        };
        // Unterminated markup: the parser reports it.
        let Some(consumed) = consumed else { break };
        i += offset + consumed;
    }
    Ok(())
}

/// Index of the `>` ending the tag that starts `rest`, outside quoted values.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (j, &c) in rest.iter().enumerate().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return Some(j),
            (None, _) => {}
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first child element of `node` with this namespace and local name.
pub fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, local: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(*n, ns, local))
}

/// The first child element with this local name, in any namespace.
///
/// Used inside ONVIF payloads, where devices are known to put `tt` elements in
/// the service namespace and the reverse; the envelope and the response element
/// are always matched with their namespace.
pub fn child_any<'a, 'i>(node: Node<'a, 'i>, local: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == local)
}

/// All child elements with this local name, in any namespace.
pub fn children_any<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == local)
}

/// The first element child, whatever its name.
pub fn first_element<'a, 'i>(node: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    node.children().find(|n| n.is_element())
}

/// True when `node` is the element `{ns}local`.
pub fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == local
        && node.tag_name().namespace().unwrap_or("") == ns
}

/// The trimmed text of a child element, if present.
pub fn child_text<'a>(node: Node<'a, '_>, local: &str) -> Option<&'a str> {
    child_any(node, local).map(text)
}

/// The trimmed text content of an element (empty when it has none).
pub fn text<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().map(str::trim).unwrap_or("")
}

/// The required child element, or a `Malformed` error naming it.
pub fn required<'a, 'i>(node: Node<'a, 'i>, local: &str) -> Result<Node<'a, 'i>> {
    child_any(node, local)
        .ok_or_else(|| Error::Malformed(format!("<{}> has no <{local}>", node.tag_name().name())))
}

/// The required attribute, or a `Malformed` error naming it.
pub fn required_attr<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str> {
    node.attribute(name).ok_or_else(|| {
        Error::Malformed(format!(
            "<{}> has no attribute {name}",
            node.tag_name().name()
        ))
    })
}

/// Parses a float attribute; NaN and infinities are refused.
pub fn float_attr(node: Node<'_, '_>, name: &str) -> Result<f64> {
    let raw = required_attr(node, name)?;
    parse_float(raw)
        .ok_or_else(|| Error::Malformed(format!("attribute {name}={raw:?} is not a number")))
}

/// Parses a finite `xs:float`/`xs:double`.
pub fn parse_float(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses an `xs:boolean`.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for c in raw.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_expansion_is_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><a>&lol2;</a>"#;
        assert!(matches!(parse(bomb), Err(Error::Malformed(_))));
    }

    #[test]
    fn refusals_say_what_the_document_did() {
        let message = |text: &str| match parse(text) {
            Err(Error::Malformed(m)) => m,
            other => format!("not refused as malformed: {:?}", other.map(|_| ())),
        };
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "x">]><a>&x;</a>"#;
        assert!(
            message(bomb).contains("declares a DTD"),
            "{}",
            message(bomb)
        );
        let whole = r#"<?xml version="1.0"?><a xmlns="urn:x"><b c="1">text</b><d/></a>"#;
        for cut in 1..whole.len() {
            // Every cut is refused; most say why in so many words.
            let m = message(&whole[..cut]);
            assert!(m.starts_with("XML: "), "cut at {cut}: {m}");
        }
        assert!(
            message(&whole[..30]).contains("ends early"),
            "{}",
            message(&whole[..30])
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        let err = parse(&deep)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("nested deeper"), "{err}");
    }

    #[test]
    fn markup_hidden_in_attributes_still_counts() {
        let deep = r#"<a x="/>">"#.repeat(1000) + &"</a>".repeat(1000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn self_closing_and_comments_do_not_count_as_depth() {
        let doc = format!("<a>{}</a>", "<b/><!-- <c> --><?pi x?>".repeat(1000));
        assert!(parse(&doc).is_ok());
    }

    #[test]
    fn lookups_ignore_prefixes_but_not_namespaces() {
        let source = r#"<x:a xmlns:x="urn:one" xmlns:y="urn:two"><y:b>1</y:b><x:b>2</x:b></x:a>"#;
        let doc = parse(source).expect("valid");
        let root = doc.root_element();
        assert_eq!(child(root, "urn:one", "b").map(text), Some("2"));
        assert_eq!(child(root, "urn:two", "b").map(text), Some("1"));
        assert!(child(root, "urn:three", "b").is_none());
    }

    #[test]
    fn escape_round_trips_through_the_parser() {
        let raw = r#"a<b>&"c'd é"#;
        let doc_text = format!("<a v=\"{}\">{}</a>", escape(raw), escape(raw));
        let doc = parse(&doc_text).expect("valid");
        assert_eq!(doc.root_element().attribute("v"), Some(raw));
        assert_eq!(doc.root_element().text(), Some(raw));
    }
}
