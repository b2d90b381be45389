"""Read the XML part into the model, safely, and write the model back as XML.

Hostile XML is refused before it is parsed: a DOCTYPE (so any DTD, entity declaration, billion-laughs
expansion or external reference) is not part of the NTS format, so its presence alone is an error.
The parser itself is configured never to resolve entities, load a DTD or touch the network either.

Size and time are bounded before the model is built: the elements and attributes of the part together
count against ``Limits.max_xml_elements``, one element may carry at most :data:`MAX_ATTRIBUTES`
attributes (NTS elements have fewer than ten), and the document's :class:`~hometax_decrypt.limits.Deadline`
is checked while walking the tree and while building the model. Text between elements (mixed
content, e.g. ``<sum>1</sum>x``) has no place in the model and is never NTS data: it is refused as
damaged rather than silently dropped.
"""

from __future__ import annotations

import re

from lxml import etree

from .. import errors
from ..limits import Deadline, Limits, resolve
from .model import DocInfo, Document, Form, Item, Node, Person

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_CONTAINERS = ("yesone", "doc", "form", "man", "data", "sum_data")
# Attributes on one element. Real NTS elements carry at most six; copying an lxml attribute map is
# quadratic in its size, so a hostile element with tens of thousands of them is refused first.
MAX_ATTRIBUTES = 256
_CHECK_EVERY = 512  # elements between two deadline checks while walking the tree


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, collect_ids=False)


def parse_tree(data: bytes, limits: Limits | None = None,
               deadline: Deadline | None = None) -> etree._Element:
    """Parse ``data`` into an lxml element with every safety check; the root element."""
    lim = resolve(limits)
    deadline = deadline if deadline is not None else Deadline(lim.max_seconds)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise errors.UsageError("XML data must be bytes")
    data = bytes(data)
    if len(data) > lim.max_part_bytes:
        raise errors.TooLarge("data part exceeds the part size limit")
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:1024]:
        raise errors.Damaged("the XML data is not UTF-8")
    if _DOCTYPE.search(data):
        raise errors.Damaged("the XML data has a DOCTYPE or entity declarations, which NTS data "
                             "never has; refused")
    # each element needs at least one '<': a cheap upper bound before building any tree
    if data.count(b"<") > 2 * lim.max_xml_elements + 16:
        raise errors.TooLarge("too many XML elements")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError:
        raise errors.Damaged("the XML data is not well-formed") from None
    except (ValueError, MemoryError):
        raise errors.Damaged("the XML data cannot be parsed") from None
    if root is None:
        raise errors.Damaged("the XML data is empty")
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise errors.Damaged("the XML data has a DOCTYPE; refused")
    deadline.check()  # the native parse above cannot be interrupted: check right after it
    nodes = 0  # elements and attributes: each becomes at least one Python object in the model
    for count, el in enumerate(root.iter(), start=1):
        if not isinstance(el.tag, str):  # entity references left unresolved
            raise errors.Damaged("the XML data has entity references; refused")
        n_attrs = len(el.attrib)  # linear; copying the map (below, in the model) is quadratic
        if n_attrs > MAX_ATTRIBUTES:
            raise errors.TooLarge("too many attributes on one XML element")
        nodes += 1 + n_attrs
        if nodes > lim.max_xml_elements:
            raise errors.TooLarge("too many XML elements")
        if el.tail is not None and el.tail.strip() and el is not root:
            raise errors.Damaged("the XML data has text between elements, which NTS data never has")
        if count % _CHECK_EVERY == 0:
            deadline.check()
    return root


def _text(el, container: bool) -> str | None:
    """Element text; in a container (an element with children, or one of the NTS structure
    elements) whitespace-only text is indentation, not a value."""
    t = el.text
    if (container or el.tag in _CONTAINERS) and t is not None and not t.strip():
        return None
    return t


def _attrs(el) -> dict[str, str]:
    # parse_tree capped the number of attributes, so this copy stays cheap
    return dict(el.attrib)


def _node(el, dl: Deadline) -> Node:
    dl.check()
    return Node(el.tag, _attrs(el), _text(el, len(el) > 0), [_node(c, dl) for c in el])


def _item(el, form_cd: str, dl: Deadline) -> Item:
    dl.check()
    return Item(_attrs(el), [_node(c, dl) for c in el], form_cd=form_cd, text=_text(el, True))


def _person(el, form_cd: str, dl: Deadline) -> Person:
    dl.check()
    children = [_item(c, form_cd, dl) if c.tag == "data" else _node(c, dl) for c in el]
    return Person(_attrs(el), children, text=_text(el, True))


def _form(el, dl: Deadline) -> Form:
    form_cd = el.get("form_cd", "")
    children = [_person(c, form_cd, dl) if c.tag == "man" else _node(c, dl) for c in el]
    return Form(_attrs(el), children, text=_text(el, True))


def parse_xml(data: bytes, limits: Limits | None = None, deadline: Deadline | None = None) -> Document:
    """The model of an NTS XML part (UTF-8 bytes as the PDF stores them).

    ``deadline`` is the document's time budget (``NtsDocument.deadline`` when the part comes from a
    PDF); by default a fresh one of ``limits.max_seconds``. Past it: :class:`errors.TooLarge`."""
    lim = resolve(limits)
    dl = deadline if deadline is not None else Deadline(lim.max_seconds)
    root = parse_tree(data, lim, dl)
    if root.tag != "yesone":
        raise errors.Damaged("the XML data is not an NTS <yesone> document")
    doc = None
    doc_pos = 0
    children: list = []
    for el in root:
        if el.tag == "doc" and doc is None:
            doc = DocInfo(_attrs(el), [_node(c, dl) for c in el], text=_text(el, True))
            doc_pos = len(children)
        elif el.tag == "form":
            children.append(_form(el, dl))
        else:
            children.append(_node(el, dl))
    return Document(doc=doc if doc is not None else DocInfo(), children=children,
                    root_attrs=dict(root.attrib), part="XML", doc_position=doc_pos,
                    text=_text(root, True))


# -- writing ------------------------------------------------------------------------------------

def _build(parent, node: Node) -> None:
    el = etree.SubElement(parent, node.tag, node.attrs)
    if node.text is not None:
        el.text = node.text
    for c in node.children:
        _build(el, c)


def to_element(doc: Document) -> etree._Element:
    root = etree.Element("yesone", doc.root_attrs)
    root.text = doc.text
    body: list = list(doc.children)
    body.insert(min(doc.doc_position, len(body)), doc.doc)
    for child in body:
        if isinstance(child, DocInfo):
            el = etree.SubElement(root, "doc", child.attrs)
            el.text = child.text
            for c in child.children:
                _build(el, c)
        elif isinstance(child, Form):
            fel = etree.SubElement(root, "form", child.attrs)
            fel.text = child.text
            for fc in child.children:
                if isinstance(fc, Person):
                    mel = etree.SubElement(fel, "man", fc.attrs)
                    mel.text = fc.text
                    for mc in fc.children:
                        if isinstance(mc, Item):
                            del_ = etree.SubElement(mel, "data", mc.attrs)
                            del_.text = mc.text
                            for c in mc.children:
                                _build(del_, c)
                        else:
                            _build(mel, mc)
                else:
                    _build(fel, fc)
        else:
            _build(root, child)
    return root


def to_xml(doc: Document) -> bytes:
    """The model as NTS-style XML (UTF-8, tab-indented)."""
    root = to_element(doc)
    etree.indent(root, space="\t")
    body = etree.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8" ?>\n' + body + "\n").encode("utf-8")
