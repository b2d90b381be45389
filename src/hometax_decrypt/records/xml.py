"""Read the XML part into the model, safely, and write the model back as XML.

Hostile XML is refused before it is parsed: a DOCTYPE (so any DTD, entity declaration, billion-laughs
expansion or external reference) is not part of the NTS format, so its presence alone is an error.
The parser itself is configured never to resolve entities, load a DTD or touch the network either.

Size and time are bounded before the model is built: the elements and attributes of the part together
count against ``Limits.max_xml_elements``, one element may carry at most :data:`MAX_ATTRIBUTES`
attributes (NTS elements have fewer than ten), and the document's :class:`~hometax_decrypt.document.limits.Deadline`
is checked while walking the tree and while building the model. Text between elements (mixed
content, e.g. ``<sum>1</sum>x``) has no place in the model and is never NTS data: it is refused as
damaged rather than silently dropped.
"""

from __future__ import annotations

import re

from lxml import etree

from .. import errors
from ..document.limits import Deadline, Limits, resolve
from .model import DocInfo, Document, Form, Item, Node, Person, bind_tax_year

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_CONTAINERS = ("yesone", "doc", "form", "man", "data", "sum_data")
# Attributes on one element. Real NTS elements carry at most six; copying an lxml attribute map is
# quadratic in its size, so a hostile element with tens of thousands of them is refused first.
MAX_ATTRIBUTES = 256
_CHECK_EVERY = 512  # elements between two deadline checks while walking the tree


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_tree(data: bytes, limits: Limits | None = None, deadline: Deadline | None = None) -> etree._Element:
    """Parse ``data`` into an lxml element with the checks that come before and right after
    parsing; the root element. The checks of each element (entities, attributes, the element
    budget, text between elements) are made by :class:`_Walk` as it builds the model."""
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
        raise errors.Damaged(
            "the XML data has a DOCTYPE or entity declarations, which NTS data never has; refused"
        )
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
    return root


class _Walk:
    """One pass over the parsed tree that checks every element and builds the model from it: the
    checks come before each element is copied, and a separate pass for them cost as much again
    (each pass makes a Python proxy per element). Building stops at the first refusal; the '<'
    bound of :func:`parse_tree` and ``max_xml_elements`` bound what is built before it.

    :meth:`kids` is the hot path (~1 300 elements for a large document, most of them leaves): a
    leaf's checks and copy are inline in its parent's loop, and the counters live in the closure,
    not on an object."""

    __slots__ = ("attrs", "node", "kids", "release")

    def __init__(self, root, limits: Limits, deadline: Deadline):
        limit = limits.max_xml_elements
        nodes = 0  # elements and attributes: each becomes at least one Python object
        next_check = _CHECK_EVERY
        containers = frozenset(_CONTAINERS)

        def attrs(el, tag) -> dict[str, str]:
            """The checks of one element, then a copy of its attributes (in order). ``kids``
            repeats these checks inline for a leaf (the hot path): a change here goes there too."""
            nonlocal nodes, next_check
            if tag.__class__ is not str:  # entity references left unresolved
                raise errors.Damaged("the XML data has entity references; refused")
            n_attrs = len(el.attrib)  # linear; copying a huge map is not: counted before the copy
            if n_attrs > MAX_ATTRIBUTES:
                raise errors.TooLarge("too many attributes on one XML element")
            nodes += 1 + n_attrs
            if nodes > limit:
                raise errors.TooLarge("too many XML elements")
            if nodes >= next_check:
                deadline.check()
                next_check = nodes + _CHECK_EVERY
            tail = el.tail
            if tail is not None and el is not root and tail.strip():
                raise errors.Damaged("the XML data has text between elements, which NTS data never has")
            return dict(el.items()) if n_attrs else {}

        def kids(el) -> list:
            """The children of ``el`` as generic nodes. A leaf (most elements: ``<amt>``,
            ``<sum>``) is checked and built here, without a call of its own; an element with
            children goes through :func:`node`. Either way in document order, each element
            checked before it is copied."""
            nonlocal nodes, next_check
            out = []
            for c in el:
                if len(c):
                    out.append(node(c))
                    continue
                tag = c.tag
                if tag.__class__ is not str:
                    raise errors.Damaged("the XML data has entity references; refused")
                n_attrs = len(c.attrib)
                if n_attrs > MAX_ATTRIBUTES:
                    raise errors.TooLarge("too many attributes on one XML element")
                nodes += 1 + n_attrs
                if nodes > limit:
                    raise errors.TooLarge("too many XML elements")
                if nodes >= next_check:
                    deadline.check()
                    next_check = nodes + _CHECK_EVERY
                tail = c.tail
                if tail is not None and tail.strip():
                    raise errors.Damaged("the XML data has text between elements, which NTS data never has")
                text = c.text
                # a structure element's whitespace-only text is indentation, not a value
                if text is not None and tag in containers and not text.strip():
                    text = None
                out.append(Node(tag, dict(c.items()) if n_attrs else {}, text))
            return out

        def node(el) -> Node:
            """A generic element and everything below it (the checks of :func:`attrs`, inline)."""
            tag = el.tag
            a = attrs(el, tag)
            children = kids(el)
            text = el.text
            # in a container (an element with children, or an NTS structure element)
            # whitespace-only text is indentation, not a value
            if text is not None and (children or tag in containers) and not text.strip():
                text = None
            return Node(tag, a, text, children)

        def release() -> None:
            """Break the cycle of the closures (``node`` and ``kids`` call each other) and drop the
            tree: without it the walk, and through ``root`` libxml2's whole tree, lived until the
            next full pass of the cyclic collector (a few MiB more per worker after a load of
            large documents, docs/performance.md)."""
            nonlocal node, kids, attrs, root, deadline
            node = kids = attrs = root = deadline = None  # type: ignore[assignment]  # none is called after

        self.attrs, self.node, self.kids, self.release = attrs, node, kids, release


def _text(el, container: bool) -> str | None:
    """Element text; in a container (an element with children, or one of the NTS structure
    elements) whitespace-only text is indentation, not a value."""
    t = el.text
    if (container or el.tag in _CONTAINERS) and t is not None and not t.strip():
        return None
    return t


def _item(el, form_cd: str, w: _Walk) -> Item:
    attrs = w.attrs(el, el.tag)
    return Item(attrs, w.kids(el), form_cd=form_cd, text=_text(el, True))


def _person(el, form_cd: str, w: _Walk) -> Person:
    attrs = w.attrs(el, el.tag)
    node = w.node
    children = [_item(c, form_cd, w) if c.tag == "data" else node(c) for c in el]
    return Person(attrs, children, text=_text(el, True))


def _form(el, w: _Walk) -> Form:
    attrs = w.attrs(el, el.tag)
    form_cd = attrs.get("form_cd", "")
    node = w.node
    children = [_person(c, form_cd, w) if c.tag == "man" else node(c) for c in el]
    return Form(attrs, children, text=_text(el, True))


def parse_xml(data: bytes, limits: Limits | None = None, deadline: Deadline | None = None) -> Document:
    """The model of an NTS XML part (UTF-8 bytes as the PDF stores them).

    ``deadline`` is the document's time budget (``NtsDocument.deadline`` when the part comes from a
    PDF); by default a fresh one of ``limits.max_seconds``. Past it: :class:`errors.TooLarge`."""
    lim = resolve(limits)
    dl = deadline if deadline is not None else Deadline(lim.max_seconds)
    root = parse_tree(data, lim, dl)
    w = _Walk(root, lim, dl)
    try:
        root_attrs = w.attrs(root, root.tag)
        if root.tag != "yesone":
            raise errors.Damaged("the XML data is not an NTS <yesone> document")
        doc = None
        doc_pos = 0
        children: list = []
        for el in root:
            tag = el.tag
            if tag == "doc" and doc is None:
                attrs = w.attrs(el, tag)
                doc = DocInfo(attrs, w.kids(el), text=_text(el, True))
                doc_pos = len(children)
            elif tag == "form":
                children.append(_form(el, w))
            else:
                children.append(w.node(el))
    finally:
        w.release()
    dl.check()
    return bind_tax_year(
        Document(
            doc=doc if doc is not None else DocInfo(),
            children=children,
            root_attrs=root_attrs,
            part="XML",
            doc_position=doc_pos,
            text=_text(root, True),
        )
    )


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
