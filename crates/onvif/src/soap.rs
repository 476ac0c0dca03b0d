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

/// Reads a SOAP 1.2 or 1.1 `Fault` element; never fails, since a fault is
/// already the error we report: missing parts stay empty.
fn parse_fault(fault: Node<'_, '_>) -> Fault {
    // SOAP 1.1: faultcode / faultstring, unqualified children.
    if let Some(code) = xml::child_any(fault, "faultcode") {
        let code = resolve(code, xml::text(code));
        let code = QName {
            local: match code.local.as_str() {
                "Client" => "Sender".into(),
                "Server" => "Receiver".into(),
                _ => code.local,
            },
            namespace: ns::SOAP12.into(),
        };
        let reason = xml::child_text(fault, "faultstring")
            .unwrap_or("")
            .to_string();
        return Fault {
            code,
            subcodes: Vec::new(),
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
