//! Safe XML reading and escaping for writing.
//!
//! Everything a device sends is hostile until parsed: documents with a DTD are
//! refused (no entity expansion), the number of nodes and the nesting depth are
//! bounded, and lookups match namespace URIs, never prefixes.
//!
//! Two readers, one set of rules: [`parse`] builds a tree (roxmltree) for the
//! small answers whose shape is deep and varied; [`Reader`] streams
//! (quick-xml) for the answers that grow with a camera (`GetPresets`), which
//! a scan reads twice per camera: it borrows names and text from the input
//! and allocates only what it keeps.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event as RawEvent};
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

/// One step of a [`Reader`].
pub enum Step<'i> {
    /// An element opens (`<a>`, or `<a/>` which is followed by its [`Step::Close`]).
    Open(Element<'i>),
    /// The element opened last closes.
    Close,
    /// Text inside an element, entities resolved (a run may come in pieces).
    Text(Cow<'i, str>),
    /// A comment or processing instruction inside an element: it ends a run
    /// of text, as it ends a text node in the tree.
    Aside,
    /// The end of the document.
    End,
}

/// An element as a [`Reader`] met it: its namespace (when it is one we know)
/// and its tag, attributes borrowed from the input.
pub struct Element<'i> {
    /// The element's namespace URI when it is one of [`crate::ns`]'s, else `None`.
    pub ns: Option<&'static str>,
    tag: BytesStart<'i>,
}

impl Element<'_> {
    /// The local name (without prefix); empty when it is not UTF-8.
    pub fn local(&self) -> &str {
        std::str::from_utf8(self.tag.local_name().into_inner()).unwrap_or("")
    }

    /// True when the element's local name is `local`, in any namespace.
    pub fn named(&self, local: &str) -> bool {
        self.tag.local_name().into_inner() == local.as_bytes()
    }

    /// True when this is the element `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == Some(ns) && self.named(local)
    }

    /// The value of the attribute of this local name (any or no prefix),
    /// entities resolved; `Malformed` for a broken attribute list. A value
    /// without `&` is borrowed from the input as it stands.
    pub fn attr(&self, name: &str) -> Result<Option<Cow<'_, str>>> {
        for attr in self.tag.attributes() {
            let attr = attr.map_err(|e| Error::Malformed(format!("XML: {e}")))?;
            if attr.key.local_name().into_inner() != name.as_bytes() {
                continue;
            }
            let malformed = |e: std::str::Utf8Error| Error::Malformed(format!("XML: {e}"));
            let value: Cow<'_, str> = match attr.value {
                Cow::Borrowed(bytes) => {
                    Cow::Borrowed(std::str::from_utf8(bytes).map_err(malformed)?)
                }
                Cow::Owned(bytes) => {
                    Cow::Owned(String::from_utf8(bytes).map_err(|e| malformed(e.utf8_error()))?)
                }
            };
            // XML's attribute-value normalization: a line end (`\r\n` one)
            // or tab written as such is a space; one written as a
            // character reference stays what it is.
            let value = if value.contains(['\t', '\n', '\r']) {
                Cow::Owned(value.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
            } else {
                value
            };
            if !value.contains('&') {
                // The usual value: borrowed from the input, no copy.
                return Ok(Some(value));
            }
            return quick_xml::escape::unescape(&value)
                .map(|v| Some(Cow::Owned(v.into_owned())))
                .map_err(|e| Error::Malformed(format!("XML: {e}")));
        }
        Ok(None)
    }

    /// The required attribute, or a `Malformed` error naming it.
    pub fn required_attr(&self, name: &str) -> Result<Cow<'_, str>> {
        self.attr(name)?
            .ok_or_else(|| Error::Malformed(format!("<{}> has no attribute {name}", self.local())))
    }

    /// A float attribute; NaN and infinities are refused.
    pub fn float_attr(&self, name: &str) -> Result<f64> {
        let raw = self.required_attr(name)?;
        parse_float(&raw)
            .ok_or_else(|| Error::Malformed(format!("attribute {name}={raw:?} is not a number")))
    }
}

/// A streaming reader with [`parse`]'s limits, checked as it reads: no DTD,
/// at most [`MAX_DEPTH`] levels and [`MAX_NODES`] steps, ends matched to
/// starts, and a document that ends early refused.
///
/// Namespaces are resolved by the reader itself, not quick-xml's resolver:
/// only an element that declares one (`xmlns` in its tag) has its
/// attributes parsed for it, so the elements of a long list cost a scan of
/// their tag and a look-up among a handful of prefixes.
pub struct Reader<'i> {
    inner: quick_xml::Reader<&'i [u8]>,
    depth: usize,
    steps: u32,
    /// A `<a/>` was returned as `Open`: its `Close` comes next.
    pending_close: bool,
    /// Some element has been read: a second root is an error.
    rooted: bool,
    /// Prefixes in scope, innermost last.
    scopes: Vec<Scope>,
}

/// A namespace declaration in scope: (depth declared at, prefix (empty for
/// the default namespace), the namespace if it is one of ours).
type Scope = (usize, Box<[u8]>, Option<&'static str>);

impl<'i> Reader<'i> {
    /// A reader of `text`.
    pub fn new(text: &'i str) -> Self {
        let mut inner = quick_xml::Reader::from_str(text);
        let config = inner.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Reader {
            inner,
            depth: 0,
            steps: 0,
            pending_close: false,
            rooted: false,
            scopes: Vec::new(),
        }
    }

    /// Opens an element: depth and root checked, its declarations taken
    /// into scope, its namespace resolved.
    fn open(&mut self, tag: BytesStart<'i>) -> Result<Step<'i>> {
        if self.depth == 0 && self.rooted {
            return Err(Error::Malformed("XML: more than one root element".into()));
        }
        self.rooted = true;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::Malformed(format!(
                "XML nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let raw = tag.attributes_raw();
        if memchr::memchr_iter(b'x', raw).any(|i| raw[i..].starts_with(b"xmlns")) {
            // Unchecked: a repeated declaration is not refused (the tree
            // does not refuse it); the last one is in scope.
            for attr in tag.attributes().with_checks(false) {
                let attr = attr.map_err(|e| Error::Malformed(format!("XML: {e}")))?;
                let key = attr.key.into_inner();
                let prefix: &[u8] = match key.strip_prefix(b"xmlns") {
                    Some([]) => b"",
                    Some([b':', prefix @ ..]) => prefix,
                    _ => continue,
                };
                let uri = attr
                    .unescape_value()
                    .map_err(|e| Error::Malformed(format!("XML: {e}")))?;
                let known = known_namespace(uri.as_bytes());
                self.scopes.push((self.depth, prefix.into(), known));
            }
        }
        let name = tag.name();
        let prefix = name.prefix().map_or(&b""[..], |p| p.into_inner());
        let ns = match self.scopes.iter().rev().find(|(_, p, _)| &**p == prefix) {
            Some((_, _, known)) => *known,
            None if prefix.is_empty() => None,
            None => {
                return Err(Error::Malformed(format!(
                    "XML: unknown namespace prefix {:?}",
                    String::from_utf8_lossy(prefix)
                )));
            }
        };
        Ok(Step::Open(Element { ns, tag }))
    }

    /// Closes the element opened last: its declarations leave scope.
    fn close(&mut self) -> Step<'i> {
        while self.scopes.last().is_some_and(|(d, _, _)| *d == self.depth) {
            self.scopes.pop();
        }
        self.depth -= 1;
        Step::Close
    }

    /// How deep the reader is: 1 inside the root element.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The next step; comments, processing instructions and the XML
    /// declaration are passed over.
    pub fn step(&mut self) -> Result<Step<'i>> {
        if self.pending_close {
            self.pending_close = false;
            return Ok(self.close());
        }
        loop {
            self.steps += 1;
            if self.steps > MAX_NODES {
                return Err(Error::Malformed(format!(
                    "XML: the document has more than {MAX_NODES} nodes"
                )));
            }
            let event = self
                .inner
                .read_event()
                .map_err(|e| Error::Malformed(format!("XML: {e}")))?;
            return match event {
                RawEvent::Start(tag) => self.open(tag),
                RawEvent::Empty(tag) => {
                    let step = self.open(tag)?;
                    self.pending_close = true;
                    Ok(step)
                }
                // quick-xml has matched the name to its start.
                RawEvent::End(_) => Ok(self.close()),
                // Line ends normalized as XML 1.0 says (`\r\n` and `\r` are `\n`).
                RawEvent::Text(text) if self.depth > 0 => text
                    .xml10_content()
                    .map(Step::Text)
                    .map_err(|e| Error::Malformed(format!("XML: {e}"))),
                RawEvent::CData(data) if self.depth > 0 => data
                    .xml10_content()
                    .map(Step::Text)
                    .map_err(|e| Error::Malformed(format!("XML: {e}"))),
                RawEvent::GeneralRef(reference) if self.depth > 0 => {
                    resolve_reference(&reference).map(|c| Step::Text(Cow::Owned(c.to_string())))
                }
                RawEvent::DocType(_) => Err(Error::Malformed(
                    "XML: the document declares a DTD, which is refused (entities are never expanded)"
                        .into(),
                )),
                RawEvent::Eof if self.depth > 0 || !self.rooted => Err(Error::Malformed(
                    "XML: the document ends early (cut off?)".into(),
                )),
                RawEvent::Eof => Ok(Step::End),
                RawEvent::Text(text) if text.iter().all(u8::is_ascii_whitespace) => continue,
                RawEvent::Text(_) | RawEvent::CData(_) | RawEvent::GeneralRef(_) => Err(
                    Error::Malformed("XML: text outside the root element".into()),
                ),
                RawEvent::Comment(_) | RawEvent::PI(_) if self.depth > 0 => Ok(Step::Aside),
                RawEvent::Comment(_) | RawEvent::Decl(_) | RawEvent::PI(_) => continue,
            };
        }
    }

    /// Passes over the rest of the element opened last, up to its close.
    pub fn skip(&mut self) -> Result<()> {
        let until = self.depth;
        while self.depth >= until {
            if let Step::End = self.step()? {
                break;
            }
        }
        Ok(())
    }

    /// The trimmed text of the element opened last, read to its close: its
    /// first text node as the tree has it (the text before any child
    /// element, comment or processing instruction; empty when one comes first).
    pub fn text(&mut self) -> Result<String> {
        let until = self.depth;
        let mut out = String::new();
        let mut first_run = true;
        loop {
            match self.step()? {
                Step::Text(piece) if first_run => out.push_str(&piece),
                Step::Text(_) => {}
                Step::Close => break,
                Step::Open(_) => {
                    first_run = false;
                    self.skip()?;
                }
                Step::Aside => first_run = false,
                Step::End => break,
            }
        }
        debug_assert!(self.depth < until);
        let trimmed = out.trim();
        if trimmed.len() != out.len() {
            out = trimmed.to_string();
        }
        Ok(out)
    }

    /// Reads to the end of the document, so that what was read is known to
    /// be part of a whole one.
    pub fn finish(&mut self) -> Result<()> {
        while !matches!(self.step()?, Step::End) {}
        Ok(())
    }
}

/// The character a reference (`&amp;`, `&#233;`) stands for: the five
/// predefined entities and character references; any other is an error,
/// since no DTD can define one.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<char> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| Error::Malformed(format!("XML: {e}")))?
    {
        return Ok(c);
    }
    match reference.as_ref() {
        b"amp" => Ok('&'),
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"quot" => Ok('"'),
        b"apos" => Ok('\''),
        other => Err(Error::Malformed(format!(
            "XML: unknown entity &{};",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// The namespace URI as one of ours, so that callers compare pointers' worth
/// of text instead of holding the reader's borrow.
fn known_namespace(uri: &[u8]) -> Option<&'static str> {
    use crate::ns;
    [
        ns::SOAP12,
        ns::SOAP11,
        ns::TT,
        ns::TDS,
        ns::TRT,
        ns::TR2,
        ns::TPTZ,
        ns::TER,
        ns::WSSE,
        ns::WSU,
    ]
    .into_iter()
    .find(|known| known.as_bytes() == uri)
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
