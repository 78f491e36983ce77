"""How much work pyHanko's difference analysis of a PDF will do, estimated by bounded walks
before it runs (:func:`review_work`), so that :mod:`jukicard.pki.pdfverify` refuses a PDF
whose review would take minutes with a typed ``pdf-limit`` instead of hanging.

pyHanko reviews each signature made in revision ``s`` against every later revision ``r``
(``StandardDiffPolicy.review_file``: one ``apply(s, r)`` per step).  What one step costs
grows with the document, not with its size in bytes:

* the form fields of both revisions: every field is listed and compared (``/Fields`` and
  their ``/Kids``; a field reached twice is listed twice);
* the page tree and the ``/Annots`` of both revisions (walked when signature fields were
  added);
* the objects written by revision ``r`` (its cross-reference entries);
* once per signature, every path from the trailer to every object of revision ``s``
  (pyHanko's reverse cross-reference cache: a path, not an object, is visited; a chain of
  shared objects — ``A → [B C]``, ``B → D``, ``C → D``… — doubles the paths at each level,
  so a 1 KB file can ask for billions of visits).

:func:`review_work` counts those visits in units (one per visit, weighted where pyHanko
does more: :data:`NEW_FIELD_COST`, :data:`PATH_COST`, :data:`STEP_COST`; calibrated so a
unit is 6-17 µs of analysis on the CI machine) with walks that mirror pyHanko's (the same
exclusions: ``/Parent`` keys, the page tree entered only along its own ``/Kids``, the
structure tree only from ``/StructTreeRoot /K``, a reference already on the current path
not followed again) and stops counting as soon as the count passes the cap: the walks
themselves do at most about the cap's worth of visits, each about ten times cheaper than
pyHanko's (every object version is parsed once, not copied per revision).  The count is
a pure function of the bytes: no clock decides.  pyHanko's analysis itself is unchanged
(still one ``review_file`` per signature; its resolvers are shared between them).

Not counted (linear in the objects a step touches, not multiplied by paths): the values
pyHanko compares inside one field, a DSS dictionary's arrays, appearance streams.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject, IndirectObject, Reference

__all__ = ["MAX_FORM_FIELDS", "check_form_tree", "review_work"]

#: Most visits of the form field tree a PDF may need (pyHanko's field walk, which signing
#: and verification both run, remembers only its path: fields sharing their ``/Kids`` make
#: it walk 2^n paths).  Real forms have hundreds of fields; 2,000 still sign (tested).
MAX_FORM_FIELDS = 20_000

#: Unit cost of one review step besides the visits (resolver and rule set-up).
STEP_COST = 50
#: Extra units for a form field a later revision added since the signed one (pyHanko's
#: field-creation rules cost about four times the listing and comparison of a field both
#: revisions have: 40 µs against 10 µs, measured).
NEW_FIELD_COST = 3
#: Units for a path through an indirect object in the reverse cross-reference walk (pyHanko
#: records the path, about twice a visit of a direct value: 20 µs, measured).
PATH_COST = 2


class _OverBudget(Exception):
    """The count passed the cap (internal: :func:`review_work` returns ``cap + 1``)."""


class _Meter:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0

    def add(self, units: int) -> None:
        self.used += units
        if self.used > self.cap:
            raise _OverBudget

    @property
    def left(self) -> int:
        return self.cap - self.used


def review_work(reader: Any, signed_revisions: Sequence[int], cap: int) -> int:
    """The estimated work (units, see the module docstring) of reviewing the revisions
    after each of ``signed_revisions`` (0-based, one entry per signature; a signature of
    the last revision costs nothing), or ``cap + 1`` as soon as it passes ``cap``.

    :param reader: the pyHanko ``PdfFileReader`` of the document.
    :param signed_revisions: the revision of each signature to be reviewed.
    :param cap: the budget; counting stops above it.
    :raises Exception: pyHanko's read errors on a broken object (the caller maps them).
    """
    last = reader.xrefs.total_revisions - 1
    bases = sorted(r for r in signed_revisions if 0 <= r < last)
    if not bases:
        return 0
    meter = _Meter(cap)
    try:
        meter.add(sum(STEP_COST * (last - base) for base in bases))
        objects = _Objects(reader)
        fields: dict[int, int] = {}
        # revision q is the old side of (last - q) steps per signature made in it and the
        # new side of one step per signature made before it
        for q in range(bases[0], last + 1):
            uses = bases.count(q) * (last - q) + sum(1 for b in bases if b < q)
            fields[q], other = _revision_width(objects.at(q),
                                               _Meter(meter.left // uses + 1))
            meter.add(other * uses)
            # the fields of both sides of every step that ends in q, a field q added since
            # the signed revision NEW_FIELD_COST more
            meter.add(sum(fields[b] + fields[q]
                          + NEW_FIELD_COST * max(0, fields[q] - fields[b])
                          for b in bases if b < q))
        for base in bases:
            _count_paths(objects.at(base), meter)
    except _OverBudget:
        return cap + 1
    return meter.used


class _Objects:
    """The objects of every revision, each written version parsed once (pyHanko's
    historical resolvers copy an object for every revision that reads it)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.parsed: dict[tuple[int, int, int], Any] = {}
        self.written: dict[tuple[int, int], list[int]] = {}
        for rev in range(reader.xrefs.total_revisions):
            for ref in reader.xrefs.explicit_refs_in_revision(rev):
                self.written.setdefault((ref.idnum, ref.generation), []).append(rev)

    def at(self, revision: int) -> _View:
        return _View(self, revision)

    def get(self, value: Any, revision: int) -> Any:
        """``value``, or the object it refers to as of ``revision`` (``None`` when the
        object does not exist then)."""
        if not isinstance(value, IndirectObject):
            return value
        key = (value.idnum, value.generation)
        revs = self.written.get(key, ())
        i = bisect.bisect_right(revs, revision) - 1
        if i < 0:
            return None
        version = key + (revs[i],)
        try:
            return self.parsed[version]
        except KeyError:
            ref = Reference(value.idnum, value.generation, pdf=self.reader)
            obj = self.reader.get_object(ref) if i == len(revs) - 1 else \
                self.reader.get_object(ref, revision=revs[i])
            self.parsed[version] = obj
            return obj


@dataclass(frozen=True)
class _View:
    """The document as of one revision."""

    objects: _Objects
    revision: int

    def __call__(self, value: Any) -> Any:
        return self.objects.get(value, self.revision)

    def key(self, node: Any, name: str) -> Any:
        """``node[name]`` resolved as of this revision, ``None`` when absent."""
        if not isinstance(node, DictionaryObject) or name not in node:
            return None
        return self(node.raw_get(name))

    @property
    def trailer(self) -> Any:
        return self.objects.reader.get_historical_resolver(self.revision).trailer_view

    @property
    def root(self) -> Any:
        return self.key(self.trailer, "/Root")

    @property
    def explicit_refs(self) -> int:
        return len(self.objects.reader.xrefs.explicit_refs_in_revision(self.revision))


# ----------------------------------------------------------------- one revision's width
def _revision_width(view: _View, meter: _Meter) -> tuple[int, int]:
    """The form fields (each listing) and the rest — page-tree nodes, annotations and the
    objects the revision writes; raises :class:`_OverBudget` past ``meter``'s cap."""
    root = view.root
    _count_tree(view, view.key(view.key(root, "/AcroForm"), "/Fields"), meter, _field_kids)
    fields = meter.used
    meter.add(view.explicit_refs)
    _count_tree(view, ArrayObject([root.raw_get("/Pages")]) if "/Pages" in root else None,
                meter, _page_kids)
    return fields, meter.used - fields


def _field_kids(view: _View, node: Any) -> Any:
    return view.key(node, "/Kids")


def _page_kids(view: _View, node: Any) -> Any:
    return view.key(node, "/Kids") if view.key(node, "/Type") == "/Pages" else None


def _count_tree(view: _View, children: Any, meter: _Meter, kids_of: Any) -> None:
    """Count every node reached through ``kids_of`` from the array ``children``, once per
    path (as pyHanko lists them), a reference already on the path not followed again.
    A node's ``/Annots`` are counted without being walked."""
    stack: list[tuple[Any, frozenset[Any]]] = [(children, frozenset())]
    while stack:
        array, on_path = stack.pop()
        if not isinstance(array, ArrayObject):
            continue
        meter.add(len(array))
        for item in array:
            ref = _key(item)
            if ref is not None and ref in on_path:
                continue
            node = view(item)
            annots = view.key(node, "/Annots")
            if isinstance(annots, ArrayObject):
                meter.add(len(annots))
            kids = kids_of(view, node) if isinstance(node, DictionaryObject) else None
            if kids is not None:
                stack.append((kids, on_path | {ref} if ref is not None else on_path))


def _key(value: Any) -> tuple[int, int] | None:
    return (value.idnum, value.generation) if isinstance(value, IndirectObject) else None


# ----------------------------------------------------- pyHanko's reverse xref cache walk
_NONE, _TRAILER, _ROOT, _PAGE_NODE, _KIDS, _STRUCT_ROOT = range(6)


def _count_paths(view: _View, meter: _Meter) -> None:
    """Count the visits of pyHanko's ``HistoricalResolver._load_reverse_xref_cache`` (every
    path from the trailer, with its exclusions) into ``meter``."""
    page_nodes = _page_tree_refs(view, meter)
    struct_nodes = _struct_tree_refs(view, meter)
    if page_nodes is None or struct_nodes is None:
        return  # pyHanko refuses the tree before the walk: nothing more to count
    # iterative depth-first walk; an entry is (value, position, in struct tree), or
    # (None, ref, _) which takes ref off the current path
    on_path: set[Any] = set()
    stack: list[tuple[Any, Any, bool]] = [(view.trailer, _TRAILER, False)]
    meter.add(1)
    while stack:
        obj, pos, in_struct = stack.pop()
        if obj is None:
            on_path.discard(pos)
            continue
        ref = _key(obj)
        if ref is not None:
            if ref in on_path or (ref in page_nodes and pos != _PAGE_NODE) \
                    or (not in_struct and ref in struct_nodes):
                continue  # on the path, a page-tree node off its canonical path, or a
                # structure element entered from outside the structure tree
            meter.add(PATH_COST - 1)
            on_path.add(ref)
            stack.append((None, ref, in_struct))
            obj = view(obj)
        # a value is counted when its container is opened (before anything is stacked)
        if isinstance(obj, DictionaryObject):
            meter.add(len(obj))
            for name, value in obj.items():
                if name == "/Parent" or (in_struct and name == "/P"):
                    continue
                stack.append((value, _after_key(view, pos, name, obj), in_struct
                              or (pos == _STRUCT_ROOT and name == "/K")))
        elif isinstance(obj, ArrayObject):
            meter.add(len(obj))
            child = _PAGE_NODE if pos == _KIDS else _NONE
            stack.extend((value, child, in_struct) for value in obj)


def _after_key(view: _View, pos: int, name: str, obj: Any) -> int:
    """Where the value under ``name`` of a dictionary at ``pos`` stands: on the page
    tree's canonical path, at the catalog's ``/StructTreeRoot``, or elsewhere."""
    if pos == _TRAILER:
        return _ROOT if name == "/Root" else _NONE
    if pos == _ROOT:
        return {"/Pages": _PAGE_NODE, "/StructTreeRoot": _STRUCT_ROOT}.get(name, _NONE)
    if pos == _PAGE_NODE and name == "/Kids" and view.key(obj, "/Type") == "/Pages":
        return _KIDS
    return _NONE


def _page_tree_refs(view: _View, meter: _Meter) -> set[Any] | None:
    """The page-tree nodes (pyHanko's canonical-path map), ``None`` when a node repeats
    (pyHanko refuses the page tree)."""
    pages = view.root.raw_get("/Pages") if "/Pages" in view.root else None
    found: set[Any] = {ref} if (ref := _key(pages)) is not None else set()
    for ref in _tree_refs(view, pages, meter, "/Kids", _is_pages, typed_only=False):
        if ref in found:
            return None
        found.add(ref)
    return found


def _struct_tree_refs(view: _View, meter: _Meter) -> set[Any] | None:
    """The structure elements, ``None`` when one repeats (pyHanko refuses the tree)."""
    root = view.root.raw_get("/StructTreeRoot") if "/StructTreeRoot" in view.root else None
    found: set[Any] = set()
    for ref in _tree_refs(view, root, meter, "/K", _is_struct_elem, typed_only=True):
        if ref in found:
            return None
        found.add(ref)
    return found


def _is_pages(view: _View, node: Any) -> bool:
    return bool(view.key(node, "/Type") == "/Pages")


def _is_struct_elem(view: _View, node: Any) -> bool:
    kind = view.key(node, "/Type")
    return kind is None or bool(kind == "/StructElem")


def _tree_refs(view: _View, node: Any, meter: _Meter, name: str, descend: Any, *,
               typed_only: bool) -> Iterator[Any]:
    """The references among the ``name`` children of ``node`` and, depth first, of every
    child ``descend`` accepts (only of those when ``typed_only``, as pyHanko maps the
    structure tree; the caller stops at the first repeat)."""
    stack = [view(node)]
    while stack:
        children = view.key(stack.pop(), name)
        if children is None:
            continue
        if not isinstance(children, ArrayObject):
            children = ArrayObject([children])
        meter.add(len(children))
        for child in children:
            value = view(child)
            accepted = isinstance(value, DictionaryObject) and descend(view, value)
            ref = _key(child)
            if ref is not None and (accepted or not typed_only):
                yield ref
            if accepted:
                stack.append(value)


def check_form_tree(reader: Any, limit: int, error: type[Exception]) -> None:
    """Count the visits pyHanko's recursive field walk (``enumerate_sig_fields``) will make,
    without its recursion and up to ``limit``: a few fields sharing their ``/Kids`` make it
    walk 2^n paths (a 2 KB PDF kept ``sign --pdf`` and ``signature verify`` busy for hours).

    :param error: the exception raised (signing: malformed PDF; verifying: a PDF limit).
    :raises Exception: (``error``) more visits than ``limit``.
    """
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return
    stack, visits = [fields], 0
    while stack:
        kids = stack.pop()
        if not isinstance(kids, ArrayObject):
            continue
        for ref in kids:  # as pyHanko: indirect references to dictionaries with a /T
            if not isinstance(ref, IndirectObject):
                continue
            visits += 1
            if visits > limit:
                raise error(f"the PDF's form field tree is larger than {limit} fields (or "
                            "shares or loops its fields)")
            untyped: Any = ref  # get_object carries no annotations
            node = untyped.get_object()
            if isinstance(node, DictionaryObject) and "/T" in node:
                kids_of = node.get("/Kids")
                if kids_of is not None:
                    stack.append(kids_of)
