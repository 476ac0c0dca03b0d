//! SOAP 1.2 envelopes as pure string functions: build a request or an answer,
//! and read one back into its body element or a structured [`Fault`].

use roxmltree::{Document, Node};

use crate::error::{Error, Fault, QName, Result};
use crate::ns;
use crate::xml;

/// Wraps a body (and optional header content) in a SOAP 1.2 envelope that
/// declares every ONVIF prefix we use.
pub fn envelope(header: Option<&str>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 600);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str("<env:Envelope ");
    out.push_str(ns::DECLARATIONS);
    out.push('>');
    if let Some(header) = header {
        out.push_str("<env:Header>");
        out.push_str(header);
        out.push_str("</env:Header>");
    }
    out.push_str("<env:Body>");
    out.push_str(body);
    out.push_str("</env:Body></env:Envelope>");
    out
}

/// The envelope of a SOAP 1.1 fault as many older devices write it: `Client`
/// or `Server`, the reason in `faultstring`, and ONVIF's subcodes (`ter`
/// local names, outermost first) as `ter:A/ter:B` text in `detail`.
pub fn fault_envelope_soap11(sender: bool, subcodes: &[&str], reason: &str) -> String {
    let code = if sender { "s:Client" } else { "s:Server" };
    let path: Vec<String> = subcodes
        .iter()
        .map(|s| format!("ter:{}", xml::escape(s)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{}" xmlns:ter="{}"><s:Body><s:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring><detail><ter:Subcodes>{}</ter:Subcodes></detail></s:Fault></s:Body></s:Envelope>"#,
        ns::SOAP11,
        ns::TER,
        xml::escape(reason),
        path.join("/")
    )
}

/// The envelope of a SOAP 1.2 fault. Subcodes are `ter` local names, outermost first.
pub fn fault_envelope(sender: bool, subcodes: &[&str], reason: &str) -> String {
    let code = if sender { "env:Sender" } else { "env:Receiver" };
    let mut body = format!("<env:Fault><env:Code><env:Value>{code}</env:Value>");
    for sub in subcodes {
        body.push_str(&format!(
            "<env:Subcode><env:Value>ter:{}</env:Value>",
            xml::escape(sub)
        ));
    }
    body.push_str(&"</env:Subcode>".repeat(subcodes.len()));
    body.push_str(&format!(
        r#"</env:Code><env:Reason><env:Text xml:lang="en">{}</env:Text></env:Reason></env:Fault>"#,
        xml::escape(reason)
    ));
    envelope(None, &body)
}

/// A parsed envelope: the document, kept so that nodes can borrow from it.
pub struct Envelope<'i> {
    doc: Document<'i>,
}

impl<'i> Envelope<'i> {
    /// Parses an envelope (SOAP 1.2, or 1.1 from old devices) with the XML limits.
    pub fn parse(text: &'i str) -> Result<Self> {
        let doc = xml::parse(text)?;
        let root = doc.root_element();
        if !(xml::is(root, ns::SOAP12, "Envelope") || xml::is(root, ns::SOAP11, "Envelope")) {
            return Err(Error::Malformed(format!(
                "expected a SOAP Envelope, found <{}> in namespace {:?}",
                root.tag_name().name(),
                root.tag_name().namespace().unwrap_or("")
            )));
        }
        Ok(Envelope { doc })
    }

    fn soap_ns(&self) -> &str {
        self.doc
            .root_element()
            .tag_name()
            .namespace()
            .unwrap_or(ns::SOAP12)
    }

    /// The `Header` element, if any.
    pub fn header(&self) -> Option<Node<'_, 'i>> {
        xml::child(self.doc.root_element(), self.soap_ns(), "Header")
    }

    /// The first element of the body, or a fault if the body holds one.
    pub fn body_element(&self) -> Result<Node<'_, 'i>> {
        let body = xml::child(self.doc.root_element(), self.soap_ns(), "Body")
            .ok_or_else(|| Error::Malformed("envelope has no Body".into()))?;
        let first = xml::first_element(body)
            .ok_or_else(|| Error::Malformed("envelope Body is empty".into()))?;
        if xml::is(first, ns::SOAP12, "Fault") || xml::is(first, ns::SOAP11, "Fault") {
            return Err(Error::Fault(parse_fault(first)));
        }
        Ok(first)
    }

    /// The body element, checked to be `{namespace}local`: a wrong namespace is an error.
    pub fn expect(&self, namespace: &str, local: &str) -> Result<Node<'_, 'i>> {
        let first = self.body_element()?;
        if xml::is(first, namespace, local) {
            Ok(first)
        } else {
            Err(Error::Malformed(format!(
                "expected {}:{local}, found <{}> in namespace {:?}",
                ns::prefix_of(namespace).unwrap_or(namespace),
                first.tag_name().name(),
                first.tag_name().namespace().unwrap_or("")
            )))
        }
    }
}

/// The streaming counterpart of [`Envelope::expect`]: reads `text` up to the
/// opening of the body element `{namespace}local` and leaves `reader` there
/// (its children are at depth 4). Anything else in the body (a fault, another
/// element) is read with the tree reader, so that its error is exactly
/// [`Envelope::expect`]'s.
pub fn open_answer<'i>(
    reader: &mut xml::Reader<'i>,
    text: &'i str,
    namespace: &str,
    local: &str,
) -> Result<()> {
    let by_tree = || -> Result<()> {
        Envelope::parse(text)?.expect(namespace, local)?;
        Err(Error::Malformed(format!(
            "the answer's {local} could not be read as a stream"
        )))
    };
    let xml::Step::Open(root) = reader.step()? else {
        return by_tree();
    };
    let soap = match root.ns {
        Some(ns @ (ns::SOAP12 | ns::SOAP11)) if root.local() == "Envelope" => ns,
        _ => return by_tree(),
    };
    // Envelope's children: the Header passed over, the Body entered.
    loop {
        match reader.step()? {
            xml::Step::Open(e) if e.is(soap, "Body") => break,
            xml::Step::Open(_) => reader.skip()?,
            xml::Step::Close | xml::Step::End => return by_tree(),
            xml::Step::Text(_) | xml::Step::Aside => {}
        }
    }
    loop {
        match reader.step()? {
            xml::Step::Open(e) if e.is(namespace, local) => return Ok(()),
            xml::Step::Text(_) | xml::Step::Aside => {}
            _ => return by_tree(),
        }
    }
}

/// Reads a SOAP 1.2 or 1.1 `Fault` element; never fails, since a fault is
/// already the error we report: missing parts stay empty.
fn parse_fault(fault: Node<'_, '_>) -> Fault {
    // SOAP 1.1: faultcode / faultstring / detail, unqualified children.
    if let Some(code) = xml::child_any(fault, "faultcode") {
        let raw = resolve(code, xml::text(code));
        let mut subcodes = Vec::new();
        let local = match raw.local.as_str() {
            "Client" | "Sender" => "Sender".to_string(),
            "Server" | "Receiver" => "Receiver".to_string(),
            // Some devices put the ONVIF code itself in faultcode (`ter:NoToken`).
            _ => {
                subcodes.push(raw);
                "Sender".to_string()
            }
        };
        // ONVIF's subcodes, where SOAP 1.1 has no place for them: devices
        // write them in `detail`, as text (`ter:InvalidArgVal/ter:NoToken`)
        // or as elements (`<ter:NoToken/>`).
        if let Some(detail) = xml::child_any(fault, "detail") {
            for sub in detail_subcodes(detail) {
                if !subcodes.contains(&sub) {
                    subcodes.push(sub);
                }
            }
        }
        let reason = xml::child_text(fault, "faultstring")
            .unwrap_or("")
            .to_string();
        return Fault {
            code: QName {
                local,
                namespace: ns::SOAP12.into(),
            },
            subcodes,
            reason,
        };
    }
    let mut code = QName {
        namespace: String::new(),
        local: String::new(),
    };
    let mut subcodes = Vec::new();
    if let Some(code_node) = xml::child_any(fault, "Code") {
        if let Some(value) = xml::child_any(code_node, "Value") {
            code = resolve(value, xml::text(value));
        }
        // Subcodes nest; walk them iteratively, bounded by the XML depth limit.
        let mut current = xml::child_any(code_node, "Subcode");
        while let Some(sub) = current {
            if let Some(value) = xml::child_any(sub, "Value") {
                subcodes.push(resolve(value, xml::text(value)));
            }
            current = xml::child_any(sub, "Subcode");
        }
    }
    let reason = xml::child_any(fault, "Reason")
        .and_then(|r| xml::child_any(r, "Text"))
        .map(xml::text)
        .unwrap_or("")
        .to_string();
    Fault {
        code,
        subcodes,
        reason,
    }
}

/// Most elements of a SOAP 1.1 `detail` looked at for subcodes: it is the
/// device's free-form part, and only its first few elements carry codes.
const DETAIL_ELEMENTS: usize = 64;

/// The ONVIF error codes in a SOAP 1.1 fault's `detail`: elements in the
/// `ter` namespace, and `prefix:local` words (split at `/` and white space) of
/// text whose prefix is bound to the `ter` namespace.
fn detail_subcodes(detail: Node<'_, '_>) -> Vec<QName> {
    let mut found = Vec::new();
    for node in detail
        .descendants()
        .filter(|n| n.is_element())
        .skip(1)
        .take(DETAIL_ELEMENTS)
    {
        if node.tag_name().namespace() == Some(ns::TER) {
            found.push(QName {
                namespace: ns::TER.into(),
                local: node.tag_name().name().to_string(),
            });
        }
        for word in xml::text(node).split(|c: char| c == '/' || c.is_whitespace()) {
            if word.contains(':') {
                let name = resolve(node, word);
                if name.namespace == ns::TER && !name.local.is_empty() {
                    found.push(name);
                }
            }
        }
    }
    found
}

/// Resolves a `prefix:local` QName written in element text against the
/// namespaces in scope at `node`.
fn resolve(node: Node<'_, '_>, raw: &str) -> QName {
    let (prefix, local) = match raw.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, raw),
    };
    let namespace = node.lookup_namespace_uri(prefix).unwrap_or("").to_string();
    QName {
        namespace,
        local: local.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_round_trips_with_nested_subcodes() {
        let text = fault_envelope(true, &["InvalidArgVal", "NoToken"], "No such preset <7>");
        let env = Envelope::parse(&text).expect("parses");
        let fault = env.body_element().err().and_then(|e| e.fault().cloned());
        let fault = fault.expect("a fault");
        assert_eq!(fault.code.local, "Sender");
        assert_eq!(fault.subcodes.len(), 2);
        assert_eq!(fault.subcodes[1].namespace, ns::TER);
        assert!(fault.is("NoToken"));
        assert_eq!(
            fault.to_string(),
            "env:Sender/ter:InvalidArgVal/ter:NoToken: No such preset <7>"
        );
    }

    #[test]
    fn any_prefix_is_accepted() {
        let text = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><p:GetPresetsResponse xmlns:p="http://www.onvif.org/ver20/ptz/wsdl"/></s:Body></s:Envelope>"#;
        let env = Envelope::parse(text).expect("parses");
        assert!(env.expect(ns::TPTZ, "GetPresetsResponse").is_ok());
    }

    #[test]
    fn wrong_namespace_is_an_error() {
        let text = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><p:GetPresetsResponse xmlns:p="urn:elsewhere"/></s:Body></s:Envelope>"#;
        let env = Envelope::parse(text).expect("parses");
        let err = env.expect(ns::TPTZ, "GetPresetsResponse").err();
        assert!(matches!(err, Some(Error::Malformed(_))), "{err:?}");
        let not_soap = r#"<Envelope xmlns="urn:x"><Body/></Envelope>"#;
        assert!(matches!(
            Envelope::parse(not_soap),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn truncated_and_non_xml_answers_are_errors() {
        let full = envelope(None, "<tptz:GetPresetsResponse/>");
        for cut in [10, full.len() / 2, full.len() - 5] {
            assert!(
                matches!(Envelope::parse(&full[..cut]), Err(Error::Malformed(_))),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            Envelope::parse("<html>502 Bad Gateway</html>"),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(Envelope::parse(""), Err(Error::Malformed(_))));
    }

    /// SOAP 1.1 devices put ONVIF's subcodes in `detail`; tandem did not read
    /// them, so the NoToken fallback never triggered on such devices.
    #[test]
    fn soap11_fault_subcodes_are_read_from_detail() {
        let as_text = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>no such preset</faultstring><detail><ter:Subcodes>ter:InvalidArgVal/ter:NoToken</ter:Subcodes></detail></s:Fault></s:Body></s:Envelope>"#;
        let as_elements = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>x</faultstring><detail><e:InvalidArgVal xmlns:e="http://www.onvif.org/ver10/error"><e:NoToken/></e:InvalidArgVal></detail></s:Fault></s:Body></s:Envelope>"#;
        let in_faultcode = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault><faultcode>ter:NoToken</faultcode><faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>"#;
        for text in [as_text, as_elements, in_faultcode] {
            let env = Envelope::parse(text).expect("parses");
            let fault = env
                .body_element()
                .err()
                .and_then(|e| e.fault().cloned())
                .expect("fault");
            assert!(fault.is("NoToken"), "{fault} from {text}");
            assert_eq!(fault.code.local, "Sender");
            assert_eq!(fault.detail_code().local, "NoToken", "{fault}");
        }
        // Words in other namespaces are not ONVIF codes.
        let other = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:x"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>x</faultstring><detail><x:Why>x:NoToken</x:Why></detail></s:Fault></s:Body></s:Envelope>"#;
        let env = Envelope::parse(other).expect("parses");
        let fault = env
            .body_element()
            .err()
            .and_then(|e| e.fault().cloned())
            .expect("fault");
        assert!(
            !fault.is("NoToken") && fault.code.local == "Receiver",
            "{fault}"
        );
    }

    #[test]
    fn soap11_fault_is_mapped() {
        let text = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>"#;
        let env = Envelope::parse(text).expect("parses");
        let fault = env
            .body_element()
            .err()
            .and_then(|e| e.fault().cloned())
            .expect("fault");
        assert_eq!(fault.code.local, "Sender");
        assert_eq!(fault.reason, "bad");
    }
}
