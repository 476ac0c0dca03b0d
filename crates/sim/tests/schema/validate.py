#!/usr/bin/env python3
"""Validate ONVIF SOAP 1.2 envelopes against the ONVIF WSDL/XSD schemas.

Usage:
    python3 validate.py [-q] [--keep-temp] WSDL_DIR FILE.xml [FILE.xml ...]

Each FILE is a complete SOAP 1.2 envelope (http://www.w3.org/2003/05/soap-envelope)
as a server would send it (responses) or a client would send it (requests).

What happens, once per run:
  * every <xs:schema> embedded in a WSDL under WSDL_DIR whose targetNamespace is one of
    SERVICE_NAMESPACES (device, media v1, media2, ptz) is cut out into a standalone .xsd,
    keeping the namespace declarations inherited from <wsdl:definitions>;
  * every schema reachable through xs:import/xs:include is copied into the temp dir with its
    schemaLocation rewritten to an absolute file URI (relative locations such as
    "./onvif.xsd" or "../../../ver10/schema/onvif.xsd" resolve against the file that holds
    them; http(s) locations are replaced by a local file with the same targetNamespace when
    WSDL_DIR has one, because xmllint runs with --nonet);
  * a SOAP 1.2 Fault schema: the real SOAP 1.2 envelope schema if WSDL_DIR holds one
    (any file whose targetNamespace is the SOAP 1.2 namespace, e.g. under envelope/),
    otherwise a small built-in schema written from SOAP 1.2 Part 1, section 5.4
    (Fault = Code, Reason, Node?, Role?, Detail?; Code/Value one of the five env: codes;
    Subcode = Value, Subcode?; Reason = Text+ with required xml:lang);
  * one top-level XSD importing all of the above.

Then, per FILE: the envelope is checked (SOAP 1.2 namespace, optional Header, Body), the first
child of env:Body is cut out byte-for-byte (all in-scope namespace declarations are copied
onto it, and it keeps its original line number), and all cut-out bodies are validated in a
single `xmllint --noout --nonet --schema TOP.xsd ...` call.

Exit status: 0 all valid, 1 at least one file invalid, 2 usage/environment/schema problem.
Standard library only; needs `xmllint` (Debian/Ubuntu: apt-get install libxml2-utils).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
import xml.parsers.expat as expat

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# Service namespaces whose embedded WSDL schema is extracted, with a human label.
SERVICE_NAMESPACES = {
    "http://www.onvif.org/ver10/device/wsdl": "device (devicemgmt.wsdl)",
    "http://www.onvif.org/ver10/media/wsdl": "media v1 (media.wsdl)",
    "http://www.onvif.org/ver20/media/wsdl": "media2 (media2.wsdl)",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz (ptz.wsdl)",
}

SEP = "\x01"  # expat namespace separator; never appears in names or URIs


class Failure(Exception):
    """A problem with one input file (reported, run continues)."""


class Fatal(Exception):
    """A problem with the environment or the schemas (run stops, exit 2)."""


# --------------------------------------------------------------------------- XML slicing

@dataclass
class Elem:
    ns: str
    local: str
    depth: int
    line: int
    start: int                      # byte offset of '<'
    end: int = -1                   # byte offset just after the element's last '>'
    attrs: dict = field(default_factory=dict)
    inscope: dict = field(default_factory=dict)   # prefix (None = default) -> uri
    own: set = field(default_factory=set)         # prefixes declared on this tag
    parent: "Elem | None" = None


def scan(data: bytes, max_depth: int = 2) -> list[Elem]:
    """Parse `data` (raising Failure if not well-formed) and return the elements at
    depth <= max_depth with exact byte ranges and in-scope namespaces."""
    p = expat.ParserCreate(namespace_separator=SEP)
    out: list[Elem] = []
    stack: list[Elem | None] = []
    scopes: list[dict] = [{}]
    pending: dict = {}
    saw_content: list[bool] = []

    def mark_content(*_a):
        if saw_content:
            saw_content[-1] = True

    def ns_start(prefix, uri):
        pending[prefix] = uri or ""

    def start(name, attrs):
        nonlocal pending
        mark_content()
        scope = dict(scopes[-1])
        scope.update(pending)
        own = set(pending)
        pending = {}
        scopes.append(scope)
        saw_content.append(False)
        depth = len(stack)
        if depth <= max_depth:
            ns, _, local = name.rpartition(SEP)
            parent = next((e for e in reversed(stack) if e is not None), None)
            e = Elem(ns, local, depth, p.CurrentLineNumber, p.CurrentByteIndex,
                     attrs=dict(attrs), inscope=scope, own=own, parent=parent)
            out.append(e)
            stack.append(e)
        else:
            stack.append(None)

    def end(_name):
        e = stack.pop()
        had_content = saw_content.pop()
        scopes.pop()
        if e is None:
            return
        idx = p.CurrentByteIndex
        if not had_content and data[idx - 2:idx] == b"/>":
            e.end = idx                       # <x .../>: expat reports the offset after '/>'
        else:
            close = data.find(b">", idx)      # </x>: expat reports the offset of '</'
            e.end = close + 1

    p.StartNamespaceDeclHandler = ns_start
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = mark_content
    p.CommentHandler = mark_content
    p.ProcessingInstructionHandler = lambda *_a: mark_content()
    p.StartCdataSectionHandler = mark_content
    try:
        p.Parse(data, True)
    except expat.ExpatError as exc:
        raise Failure(f"not well-formed XML: {exc}") from None
    return out


def xml_decl_encoding(data: bytes) -> str | None:
    m = re.match(rb'\s*<\?xml[^>]*?encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']', data)
    return m.group(1).decode("ascii") if m else None


def normalise_encoding(data: bytes) -> bytes:
    """UTF-16 input is transcoded to UTF-8 so byte slicing stays simple."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
        text = re.sub(r'^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["\'][^"\']*["\']', r"\1", text)
        return text.encode("utf-8")
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    return data


def _attr_escape(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def cut(data: bytes, e: Elem, keep_line: bool = True) -> bytes:
    """Return element `e` as a standalone document: original bytes, plus the namespace
    declarations it inherits from its ancestors, starting on its original line."""
    frag = data[e.start:e.end]
    m = re.match(rb"<[^\s/>]+", frag)
    decls = []
    for prefix, uri in sorted(e.inscope.items(), key=lambda kv: kv[0] or ""):
        if prefix in e.own or prefix == "xml":
            continue
        if prefix is None:
            if uri:
                decls.append(f' xmlns="{_attr_escape(uri)}"')
        elif uri:
            decls.append(f' xmlns:{prefix}="{_attr_escape(uri)}"')
    frag = frag[:m.end()] + "".join(decls).encode("ascii", "xmlcharrefreplace") + frag[m.end():]
    enc = xml_decl_encoding(data)
    head = b""
    if enc and enc.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
        head = f'<?xml version="1.0" encoding="{enc}"?>'.encode("ascii")
    if keep_line and e.line > 1:
        head += b"\n" * (e.line - 1)
    return head + frag


# --------------------------------------------------------------------------- schemas

def root_info(path: Path) -> tuple[str, str | None] | None:
    """(expanded root name, targetNamespace) of an XML file, or None if not XML."""
    p = expat.ParserCreate(namespace_separator=SEP)
    found: list = []

    def start(name, attrs):
        found.append((name, attrs.get("targetNamespace")))
        raise StopIteration

    p.StartElementHandler = start
    try:
        with open(path, "rb") as fh:
            p.ParseFile(fh)
    except StopIteration:
        pass
    except (expat.ExpatError, OSError, ValueError):
        return None
    return found[0] if found else None


def is_url(loc: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", loc) is not None


_IMPORT_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:import|include|redefine|override)\b[^>]*>")
_LOCATION = re.compile(rb"""schemaLocation\s*=\s*(["'])(.*?)\1""", re.S)
_NAMESPACE = re.compile(rb"""namespace\s*=\s*(["'])(.*?)\1""", re.S)


class SchemaSet:
    def __init__(self, wsdl_dir: Path, tmp: Path):
        self.wsdl_dir = wsdl_dir
        self.tmp = tmp
        self.copies: dict[Path, Path] = {}
        self.by_ns: dict[str, Path] = {}       # standalone schema files in WSDL_DIR
        self.roots: dict[str, Path] = {}       # namespace -> temp xsd imported by top.xsd
        self.notes: list[str] = []
        self.fault_mode = ""

    # -- discovery
    def index(self) -> list[Path]:
        wsdls = []
        for path in sorted(self.wsdl_dir.rglob("*")):
            if not path.is_file() or path.suffix in (".py", ".pyc", ".md", ".txt"):
                continue
            if path.suffix == ".wsdl":
                wsdls.append(path)
                continue
            info = root_info(path)
            if info and info[0] == XSD_NS + SEP + "schema" and info[1]:
                self.by_ns.setdefault(info[1], path)
        return wsdls

    # -- copying with rewritten locations
    def copy(self, src: Path) -> Path:
        src = src.resolve()
        if src in self.copies:
            return self.copies[src]
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", src.name)
        dst = self.tmp / f"{len(self.copies):03d}_{stem}.xsd"
        self.copies[src] = dst
        dst.write_bytes(self.rewrite(src.read_bytes(), src.parent))
        return dst

    def resolve(self, loc: str, base: Path, ns: str | None) -> str | None:
        if loc.startswith("file:"):
            target = Path(urllib.parse.unquote(urllib.parse.urlparse(loc).path))
        elif is_url(loc):
            target = self.by_ns.get(ns) if ns else None
            if target is None:
                return None          # leave remote location untouched (will fail with --nonet)
        else:
            target = (base / urllib.parse.unquote(loc)).resolve()
        if target.is_file():
            return self.copy(target).as_uri()
        return target.as_uri()       # absolute, so the compile error names the missing file

    def rewrite(self, data: bytes, base: Path) -> bytes:
        def fix_tag(m: re.Match) -> bytes:
            tag = m.group(0)
            nsm = _NAMESPACE.search(tag)
            ns = nsm.group(2).decode() if nsm else None

            def fix_loc(lm: re.Match) -> bytes:
                new = self.resolve(lm.group(2).decode(), base, ns)
                if new is None:
                    return lm.group(0)
                return b'schemaLocation="' + _attr_escape(new).encode() + b'"'
            return _LOCATION.sub(fix_loc, tag)
        return _IMPORT_TAG.sub(fix_tag, data)

    # -- building
    def build(self) -> Path:
        wsdls = self.index()
        for wsdl in wsdls:
            data = normalise_encoding(wsdl.read_bytes())
            try:
                elems = scan(data, max_depth=2)
            except Failure as exc:
                self.notes.append(f"skipped {wsdl}: {exc}")
                continue
            for e in elems:
                if not (e.ns == XSD_NS and e.local == "schema" and e.depth == 2):
                    continue
                tns = e.attrs.get("targetNamespace", "")
                if tns not in SERVICE_NAMESPACES:
                    continue
                if tns in self.roots:
                    self.notes.append(f"ignored second schema for {tns} in {wsdl}")
                    continue
                body = self.rewrite(cut(data, e, keep_line=True), wsdl.parent)
                out = self.tmp / f"wsdl_{wsdl.stem}_{len(self.roots)}.xsd"
                out.write_bytes(body)
                self.roots[tns] = out
        for ns, label in SERVICE_NAMESPACES.items():
            if ns not in self.roots:
                self.notes.append(f"no schema for {label} [{ns}] in {self.wsdl_dir}")
        if not self.roots:
            raise Fatal(f"no ONVIF service WSDL (devicemgmt/media/ptz) found under {self.wsdl_dir}")

        soap12 = self.by_ns.get(SOAP12)
        if soap12 is not None:
            self.roots[SOAP12] = self.copy(soap12)
            self.fault_mode = f"SOAP 1.2 envelope schema {soap12}"
        else:
            self.roots[SOAP12] = self.builtin_fault_schema()
            soap11 = self.by_ns.get(SOAP11)
            why = f" ({soap11.name} there is the SOAP 1.1 schema)" if soap11 else ""
            self.fault_mode = (f"no SOAP 1.2 envelope schema in WSDL_DIR{why}: env:Fault checked for "
                               "well-formedness plus the built-in SOAP 1.2 Fault structure schema")

        top = self.tmp / "top.xsd"
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 f'<xs:schema xmlns:xs="{XSD_NS}" elementFormDefault="qualified">']
        for ns, path in self.roots.items():
            lines.append(f'  <xs:import namespace="{_attr_escape(ns)}" '
                         f'schemaLocation="{_attr_escape(path.as_uri())}"/>')
        lines.append("</xs:schema>\n")
        top.write_text("\n".join(lines), encoding="utf-8")
        return top

    def builtin_fault_schema(self) -> Path:
        xml_xsd = self.by_ns.get(XML_NS)
        if xml_xsd is not None:
            xml_import = (f'<xs:import namespace="{XML_NS}" '
                          f'schemaLocation="{_attr_escape(self.copy(xml_xsd).as_uri())}"/>')
            lang = '<xs:attribute ref="xml:lang" use="required"/>'
        else:
            xml_import = ""
            lang = f'<xs:anyAttribute namespace="{XML_NS}" processContents="skip"/>'
        text = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Minimal SOAP 1.2 Fault structure (SOAP 1.2 Part 1, section 5.4), generated by validate.py -->
<xs:schema xmlns:xs="{XSD_NS}" xmlns:xml="{XML_NS}" xmlns:env="{SOAP12}"
           targetNamespace="{SOAP12}" elementFormDefault="qualified">
  {xml_import}
  <xs:element name="Fault" type="env:Fault"/>
  <xs:complexType name="Fault">
    <xs:sequence>
      <xs:element name="Code" type="env:faultcode"/>
      <xs:element name="Reason" type="env:faultreason"/>
      <xs:element name="Node" type="xs:anyURI" minOccurs="0"/>
      <xs:element name="Role" type="xs:anyURI" minOccurs="0"/>
      <xs:element name="Detail" type="env:detail" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="faultcode">
    <xs:sequence>
      <xs:element name="Value" type="env:faultcodeEnum"/>
      <xs:element name="Subcode" type="env:subcode" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:simpleType name="faultcodeEnum">
    <xs:restriction base="xs:QName">
      <xs:enumeration value="env:DataEncodingUnknown"/>
      <xs:enumeration value="env:MustUnderstand"/>
      <xs:enumeration value="env:Receiver"/>
      <xs:enumeration value="env:Sender"/>
      <xs:enumeration value="env:VersionMismatch"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:complexType name="subcode">
    <xs:sequence>
      <xs:element name="Value" type="xs:QName"/>
      <xs:element name="Subcode" type="env:subcode" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="faultreason">
    <xs:sequence>
      <xs:element name="Text" type="env:reasontext" maxOccurs="unbounded"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="reasontext">
    <xs:simpleContent>
      <xs:extension base="xs:string">
        {lang}
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:complexType name="detail">
    <xs:sequence>
      <xs:any namespace="##any" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence>
    <xs:anyAttribute namespace="##other" processContents="lax"/>
  </xs:complexType>
</xs:schema>
"""
        out = self.tmp / "builtin_soap12_fault.xsd"
        out.write_text(text, encoding="utf-8")
        return out


# --------------------------------------------------------------------------- envelopes

def extract_body_child(path: Path) -> tuple[bytes, Elem, list[str]]:
    data = normalise_encoding(path.read_bytes())
    elems = scan(data, max_depth=2)
    if not elems:
        raise Failure("empty document")
    root = elems[0]
    if (root.ns, root.local) == (SOAP11, "Envelope"):
        raise Failure("SOAP 1.1 envelope (http://schemas.xmlsoap.org/soap/envelope/); "
                      f"ONVIF over SOAP 1.2 needs {SOAP12}")
    if (root.ns, root.local) != (SOAP12, "Envelope"):
        raise Failure(f"root element is {{{root.ns}}}{root.local}, expected {{{SOAP12}}}Envelope")
    kids = [e for e in elems if e.depth == 1]
    names = [(k.ns, k.local) for k in kids]
    if names not in ([(SOAP12, "Body")], [(SOAP12, "Header"), (SOAP12, "Body")]):
        got = ", ".join(f"{{{n}}}{l}" for n, l in names) or "nothing"
        raise Failure(f"env:Envelope must contain [env:Header] env:Body, found: {got}")
    body = kids[-1]
    content = [e for e in elems if e.depth == 2 and e.parent is body]
    if not content:
        raise Failure("env:Body is empty")
    warnings = []
    if len(content) > 1:
        warnings.append(f"env:Body has {len(content)} children; only the first is validated")
    return cut(data, content[0]), content[0], warnings


# --------------------------------------------------------------------------- main

def find_xmllint() -> str:
    exe = shutil.which(os.environ.get("XMLLINT", "xmllint"))
    if exe is None:
        raise Fatal("xmllint not found on PATH (install libxml2-utils, e.g. "
                    "`apt-get install libxml2-utils`, or set XMLLINT=/path/to/xmllint)")
    return exe


def run_xmllint(exe: str, top: Path, docs: list[Path]) -> tuple[dict[Path, bool], dict[Path, list[str]], str]:
    ok: dict[Path, bool] = {}
    msgs: dict[Path, list[str]] = {d: [] for d in docs}
    stray: list[str] = []
    by_name = {str(d): d for d in docs}
    names = sorted(by_name, key=len, reverse=True)
    for i in range(0, len(docs), 200):
        chunk = docs[i:i + 200]
        proc = subprocess.run([exe, "--noout", "--nonet", "--schema", str(top), *map(str, chunk)],
                              capture_output=True, text=True, errors="replace")
        if proc.returncode == 5 or "failed to compile" in proc.stderr:
            raise Fatal("xmllint could not compile the generated schemas:\n" + proc.stderr)
        current = None
        for line in proc.stderr.splitlines():
            hit = next((n for n in names if line.startswith(n)), None)
            if hit is not None:
                current = by_name[hit]
                rest = line[len(hit):]
                if rest == " validates":
                    ok[current] = True
                    continue
                if rest == " fails to validate":
                    ok[current] = False
                    continue
            if current is None:
                stray.append(line)
            else:
                msgs[current].append(line)
    return ok, msgs, "\n".join(stray)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 usage="%(prog)s [-q] [--keep-temp] WSDL_DIR FILE.xml [FILE.xml ...]")
    ap.add_argument("wsdl_dir", type=Path)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    ap.add_argument("--keep-temp", action="store_true", help="keep and print the temp dir")
    args = ap.parse_args(argv)

    if not args.wsdl_dir.is_dir():
        print(f"error: WSDL_DIR {args.wsdl_dir} is not a directory", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="onvif-validate-"))
    try:
        exe = find_xmllint()
        schemas = SchemaSet(args.wsdl_dir.resolve(), tmp)
        top = schemas.build()
        if not args.quiet:
            for n in schemas.notes:
                print(f"note: {n}")
            print(f"note: faults: {schemas.fault_mode}")

        failed: dict[Path, list[str]] = {}
        staged: dict[Path, Path] = {}       # temp doc -> original
        labels: dict[Path, str] = {}
        warn: dict[Path, list[str]] = {}
        for i, f in enumerate(args.files):
            try:
                frag, elem, warnings = extract_body_child(f)
            except (Failure, OSError) as exc:
                failed[f] = [str(exc)]
                continue
            prefix = next((p for p, u in elem.inscope.items() if u == elem.ns and p), None)
            labels[f] = f"{prefix}:{elem.local}" if prefix else f"{{{elem.ns}}}{elem.local}"
            warn[f] = warnings
            if elem.ns not in schemas.roots:
                warn[f].append(f"no schema for namespace {elem.ns} in WSDL_DIR"
                               + (" (media2.wsdl is not shipped there)"
                                  if elem.ns == "http://www.onvif.org/ver20/media/wsdl" else ""))
            doc = tmp / f"doc{i:04d}.xml"
            doc.write_bytes(frag)
            staged[doc] = f

        if staged:
            ok, msgs, stray = run_xmllint(exe, top, list(staged))
            if stray.strip():
                print(stray, file=sys.stderr)
            for doc, orig in staged.items():
                if not ok.get(doc, False):
                    lines = [m.replace(str(doc), str(orig)) for m in msgs[doc]]
                    failed[orig] = lines or ["xmllint reported no result for this file"]

        for f in args.files:
            extra = "".join(f"\n    warning: {w}" for w in warn.get(f, []))
            if f in failed:
                print(f"FAIL {f}" + (f" ({labels[f]})" if f in labels else "") + extra)
                for line in failed[f]:
                    print(f"    {line}")
            elif not args.quiet:
                print(f"ok   {f} ({labels[f]})" + extra)
        if not args.quiet or failed:
            print(f"{len(args.files) - len(failed)}/{len(args.files)} valid")
        return 1 if failed else 0
    except Fatal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep_temp:
            print(f"temp dir kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
