"""Hostile input: mutated real samples and generated documents through every public entry point.

Any input must give a result or an :class:`errors.HometaxError` whose code is in ``errors.SPECS``,
never another exception, never a hang, never more than a few hundred MiB.

The number of examples per test comes from ``HOMETAX_FUZZ_EXAMPLES`` (a short run by default, so
``make test`` stays quick; ``make fuzz`` sets 20000). Mutations are byte flips, truncations, deletions,
splices from another document, PDF tokens and junk inserted anywhere, and the same aimed at the parts a
parser trusts most: the cross-reference table and trailer, the Flate data of the streams, the
``/ByteRange`` numbers and the ``/Contents`` hex of the timestamp, and the ``/Length`` numbers.
Records: every document that parses is also serialised and exported (JSON, CSV, XLSX, masked or not);
the corpus holds documents aimed at the records (many people, an element bomb, an attribute bomb,
numbers of thousands of digits, text between elements), and the SAM reader is fuzzed on its own with
line and column mutations of the real SAM parts.

Time: each example runs under Hypothesis' own ``deadline`` and under a faulthandler watchdog that ends
the run with every thread's traceback if one example hangs (a loop inside qpdf cannot be interrupted
from Python). Memory: the kernel's peak-RSS mark is reset before each example (``/proc/self/clear_refs``)
and read after it: an example may not grow the process by more than a few hundred MiB, so a bomb that
inflates in memory fails the example that caused it.
"""

from __future__ import annotations

import datetime
import faulthandler
import functools
import os
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.formats import FORMATS
from hometax_decrypt.records import document_to_dict, parse_sam
from tests.support import builder
from tests.support.paths import password_for, sample_files

EXAMPLES = int(os.environ.get("HOMETAX_FUZZ_EXAMPLES", "150"))
DEADLINE = datetime.timedelta(seconds=5)  # per example, all entry points together
HANG_SECONDS = 60  # the watchdog: an example this slow is a hang, the run ends with tracebacks
MAX_GROWTH_MIB = 300  # per example: the peak resident set above what the process held before it

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


# == the corpus ======================================================================================
@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    password: str | None
    regions: dict[str, tuple[tuple[int, int], ...]]  # kind -> (start, end) byte ranges worth aiming at


_STREAM = re.compile(rb"stream\r?\n")
_ENDSTREAM = re.compile(rb"endstream")
_XREF = re.compile(rb"(?:^|[\r\n])(xref|trailer|startxref)\b")
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[[^\]]{0,80}\]")
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]{0,20000})>")
_LENGTH = re.compile(rb"/(?:Length|Size|Count|Prev|N|First)\s+\d+")


def _regions(data: bytes) -> dict[str, tuple[tuple[int, int], ...]]:
    streams = []
    for m in _STREAM.finditer(data):
        end = _ENDSTREAM.search(data, m.end())
        if end is not None:
            streams.append((m.end(), end.start()))
        if len(streams) >= 200:
            break
    xref = [(m.start(1), min(len(data), m.start(1) + 400)) for m in _XREF.finditer(data)]
    out = {
        "stream": streams,
        "xref": xref or [(max(0, len(data) - 400), len(data))],
        "byte_range": [m.span() for m in _BYTE_RANGE.finditer(data)],
        "contents": [m.span(1) for m in _CONTENTS.finditer(data)],
        "numbers": [m.span() for m in _LENGTH.finditer(data)][:500],
    }
    return {k: tuple(v) for k, v in out.items() if v}


def _generated() -> dict[str, tuple[bytes, str | None]]:
    pw = "fuzz-pass"
    out = {
        "gen/plain": (builder.build_nts_pdf(), None),
        "gen/aes-256": (builder.build_nts_pdf(encryption="aes-256", user_password=pw), pw),
        "gen/rc4-40": (builder.build_nts_pdf(encryption="rc4-40", user_password=pw), pw),
        "gen/legacy": (builder.build_nts_pdf(legacy=True), None),
        "gen/object-streams": (builder.build_nts_pdf(object_streams=True), None),
        "gen/linearized": (builder.build_nts_pdf(linearize=True), None),
        "gen/xml-only": (builder.build_nts_pdf(sam=None), None),
        "gen/no-nts-data": (builder.plain_pdf(), None),
        "gen/bomb-64MiB": (builder.bomb_pdf(64 << 20), None),
        # structure streams qpdf inflates itself while opening (its decoder limit is 64 MiB)
        "gen/object-stream-bomb": (builder.object_stream_bomb(96), None),
        "gen/xref-stream-bomb": (builder.xref_stream_bomb(96), None),
    }
    # records: documents that stress the parser and the exporters rather than the PDF reader
    for name, xml in _records_seeds().items():
        out[f"gen/records-{name}"] = (builder.build_nts_pdf(xml=xml, sam=None), None)
    for kind in ("not_array", "corrupt_stream", "truncated_stream", "bad_filter"):
        out[f"gen/broken-{kind}"] = (builder.broken_custom_files_pdf(kind), None)
    return out


def _records_seeds() -> dict[str, bytes]:
    head = b'<?xml version="1.0" encoding="utf-8" ?><yesone><doc><seq>1</seq></doc>'
    huge = b"9" * 5000
    men = b"".join(b'<man resid="%013d" name="p%d"/>' % (i, i) for i in range(20_000))
    return {
        # 60 000 elements and attributes: within the default budget, quadratic work would hang
        "people-20k": head + b'<form form_cd="A102Y">' + men + b"</form></yesone>",
        # ~15 MiB of tiny elements in a ~30 KiB PDF: over the element budget
        "element-bomb": head + b'<x a="1" b="2"/>' * 999_000 + b"</yesone>",
        # 40 000 attributes on one element: the copy of the map is quadratic
        "attribute-bomb": head + b"<x " + b" ".join(b'a%d="1"' % i for i in range(40_000)) + b"/></yesone>",
        # thousands of digits where amounts are: int() of them raises
        "huge-numbers": head + b'<form form_cd="A102Y"><man resid="7501011234567" name="n">'
        b'<data dat_cd="G0001" busnid="1"><sum ddct="' + huge + b'">' + huge + b"</sum>"
        b'<amt mm="01">' + huge + b"</amt></data></man></form></yesone>",
        # text between elements and spreadsheet formulas in text
        "tails-and-formulas": head + b'<form form_cd="A102Y"><man resid="7501011234567" '
        b'name="-1+cmd|&apos; /C calc&apos;!A0"><data dat_cd="G0001" trade_nm="=1+1"><sum>1</sum>'
        b"LOST</data></man></form></yesone>",
    }


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[Seed, ...]:
    seeds = []
    for path in sample_files():
        data = path.read_bytes()
        seeds.append(Seed(str(path.relative_to(path.parents[1])), data, password_for(path), _regions(data)))
    for name, (data, pw) in _generated().items():
        seeds.append(Seed(name, data, pw, _regions(data)))
    return tuple(seeds)


# == mutations =======================================================================================
# Tokens that steer a PDF parser into its less-travelled paths.
TOKENS = (
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b")",
    b"\\",
    b"<",
    b">",
    b"/",
    b"R",
    b" 0 R",
    b"1 0 R",
    b"xref\n0 1\n0000000000 65535 f \n",
    b"trailer",
    b"startxref\n0\n",
    b"%%EOF",
    b"/Length 999999999",
    b"/Length -1",
    b"/Size 99999999",
    b"/Filter /FlateDecode",
    b"/DecodeParms << /Predictor 12 /Columns 4 >>",
    b"/ObjStm",
    b"/XRef",
    b"/Encrypt",
    b"/CustomFiles",
    b"/XML",
    b"/SAM",
    b"/ByteRange",
    b"/Contents",
    b"/Type /EmbeddedFile",
    b"99999999999999999999",
    b"-0",
    b"1e308",
    b"\x00",
    b"\xff" * 8,
    b"\r",
    b"\n",
)

KINDS = ("any", "stream", "xref", "byte_range", "contents", "numbers")
OPS = ("flip", "truncate", "delete", "insert_token", "insert_junk", "splice", "duplicate", "number")


@st.composite
def mutation(draw) -> tuple:
    op = draw(st.sampled_from(OPS))
    kind = draw(st.sampled_from(KINDS))
    where = draw(st.integers(0, 2**32 - 1))  # resolved against the chosen region at apply time
    if op == "flip":
        arg = draw(st.lists(st.integers(1, 255), min_size=1, max_size=8))
    elif op in ("truncate", "delete", "duplicate"):
        arg = draw(st.integers(1, 1 << 16))
    elif op == "insert_token":
        arg = draw(st.integers(0, len(TOKENS) - 1))
    elif op == "insert_junk":
        arg = draw(st.binary(min_size=1, max_size=64))
    elif op == "splice":
        arg = (draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 8192)))
    else:  # number: replace the digits at or after the position with another number
        arg = draw(
            st.sampled_from((0, 1, 2, 7, 255, 256, 65535, 2**31 - 1, 2**31, 2**32, 2**63, 10**20, -1))
            | st.integers(0, 10**7)
        )
    return (op, kind, where, arg)


def _position(seed: Seed, data: bytes, kind: str, where: int) -> int:
    regions = seed.regions.get(kind) if kind != "any" else None
    if not regions:
        return where % (len(data) + 1)
    start, end = regions[where % len(regions)]
    span = max(1, end - start)
    return min(len(data), start + (where // len(regions)) % span)


_DIGITS = re.compile(rb"-?\d+")


def apply(seed: Seed, ops: list[tuple]) -> bytes:
    data = bytearray(seed.data)
    for op, kind, where, arg in ops:
        # Regions were found in the seed; after an earlier length change they are approximate, which
        # is fine for a fuzzer. Positions are clamped to the current data.
        pos = min(_position(seed, data, kind, where), len(data))
        if op == "flip":
            for i, x in enumerate(arg):
                if pos + i < len(data):
                    data[pos + i] ^= x
        elif op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + arg]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + arg]
        elif op == "insert_token":
            data[pos:pos] = TOKENS[arg]
        elif op == "insert_junk":
            data[pos:pos] = arg
        elif op == "splice":
            donors = corpus()
            donor = donors[arg[0] % len(donors)].data
            src = arg[1] % len(donor)
            data[pos : pos + arg[2]] = donor[src : src + arg[2]]
        elif op == "number":
            m = _DIGITS.search(data, pos, min(len(data), pos + 64))
            if m is not None:
                data[m.start() : m.end()] = str(arg).encode()
    return bytes(data)


@st.composite
def hostile(draw) -> tuple[int, list[tuple]]:
    seeds = corpus()
    index = draw(st.integers(0, len(seeds) - 1))
    ops = draw(st.lists(mutation(), min_size=1, max_size=4))
    return index, ops


# == the guards ======================================================================================
def _status_mib(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def _peak_rss_mib() -> float:
    """The peak since the last reset (VmHWM); getrusage's ru_maxrss is never reset."""
    return max(_status_mib("VmHWM"), 0.0)


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


class guarded:
    """Around one example: a watchdog against hangs, a fresh peak-RSS mark, and the check after."""

    def __enter__(self):
        _reset_peak_rss()
        self.base = _status_mib("VmRSS")
        faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
        return self

    def __exit__(self, *exc):
        faulthandler.cancel_dump_traceback_later()
        growth = _peak_rss_mib() - self.base
        assert growth < MAX_GROWTH_MIB, f"peak RSS {growth:.0f} MiB above the start of one example"
        return False


def outcome(fn, *args, **kwargs):
    """``fn``'s result, or the listed error code it raised; any other exception propagates."""
    try:
        return fn(*args, **kwargs)
    except errors.HometaxError as exc:
        assert exc.code in errors.SPECS, exc.code
        assert type(exc) is errors.BY_CODE[exc.code]
        return exc


def _password(seed: Seed, use_password: bool) -> str | None:
    return seed.password if use_password else None


# == the tests =======================================================================================
@FUZZ_SETTINGS
@given(
    case=hostile(),
    use_password=st.booleans(),
    part=st.sampled_from(("xml", "sam")),
    encoding=st.sampled_from(("utf-8", "euc-kr")),
)
def test_extract_gives_data_or_a_listed_error(case, use_password, part, encoding):
    index, ops = case
    seed = corpus()[index]
    data = apply(seed, ops)
    with guarded():
        got = outcome(h.extract, data, _password(seed, use_password), part=part, encoding=encoding)
        assert isinstance(got, (bytes, errors.HometaxError))
        got = outcome(h.extract_verified, data, _password(seed, use_password), part=part, encoding=encoding)
        assert isinstance(got, (h.Extraction, errors.HometaxError))


@FUZZ_SETTINGS
@given(case=hostile())
def test_verify_gives_a_verdict_or_a_listed_error(case):
    index, ops = case
    seed = corpus()[index]
    data = apply(seed, ops)
    with guarded():
        got = outcome(h.verify, data)
        if not isinstance(got, errors.HometaxError):
            # A verdict is plain data: it must serialise, and a mutated file never matches its stamp
            # unless the mutation left the signed bytes as they were.
            assert isinstance(got.to_dict(), dict)
            if got.matches_stamp and data != seed.data:
                assert _only_contents_changed(seed.data, data)


def _only_contents_changed(original: bytes, mutated: bytes) -> bool:
    """The ``/Contents`` hex is the one unsigned span: a change there alone (say, hex letter case)
    may leave a file authentic; a change anywhere else may not."""
    if len(original) != len(mutated):
        return False
    diffs = [i for i, (a, b) in enumerate(zip(original, mutated)) if a != b]
    return any(all(m.start(1) <= i < m.end(1) for i in diffs) for m in _CONTENTS.finditer(original))


@FUZZ_SETTINGS
@given(case=hostile(), use_password=st.booleans(), mask=st.booleans())
def test_parse_gives_records_or_a_listed_error(case, use_password, mask):
    index, ops = case
    seed = corpus()[index]
    data = apply(seed, ops)
    with guarded():
        doc = outcome(h.parse, data, _password(seed, use_password))
        if not isinstance(doc, errors.HometaxError):
            _export_everything(doc, mask)


def _export_everything(doc, mask: bool) -> None:
    """Records that parsed must serialise and export: every format of the registry (XLSX, CSV, JSON,
    NDJSON, and any added later). Masked or not is drawn with the example rather than both done in
    each: the 20 000-person seed takes seconds per pass, and the per-example deadline holds them all."""
    assert "ndjson" in FORMATS
    got = outcome(document_to_dict, doc, mask=mask)
    assert isinstance(got, (dict, errors.HometaxError))
    for fmt in FORMATS.values():
        got = outcome(fmt.write, [doc], mask=mask)
        assert isinstance(got, (bytes, errors.HometaxError)), fmt.name


# -- SAM ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def sam_corpus() -> tuple[bytes, ...]:
    """The SAM parts of the real samples, and a few built to stress the reader."""
    real = [h.extract(p, password=password_for(p), part="sam") for p in sample_files()]
    head = b"DOCHD|HDR|A|2030010100000001|2030|01 ~ 12\xec\x9b\x94 |\n"
    days = b"".join(
        b"B101D|G0001|7501011234567|n|1234567890|t|203001%02d|%d|\n" % (i % 28 + 1, i) for i in range(12_000)
    )  # one item, many days
    return tuple(real) + (
        head + days + b"DOCED|END|\n",
        head + b"A102Y|G0001|7501011234567|n|" + b"9" * 5000 + b"|" * 12 + b"\n",
        head + b"|" * 200_000,
    )


SAM_TOKENS = (
    "",
    "x",
    "DOCHD",
    "DOCED",
    "END",
    "\r",
    "B101D",
    "L102D",
    "G110M",
    "K101M",
    "O101M",
    "A102Y",
    "=1+1",
    "-1+1",
    "9" * 5000,
    "0" * 20,
    "20301399",
    "\u00e9",
    " " * 10,
)


@st.composite
def sam_case(draw) -> tuple[int, list[tuple]]:
    index = draw(st.integers(0, len(sam_corpus()) - 1))
    ops = draw(
        st.lists(
            st.tuples(
                st.integers(0, 6),
                st.integers(0, 2**16),
                st.integers(0, 2**16),
                st.integers(0, len(SAM_TOKENS) - 1),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return index, ops


def apply_sam(data: bytes, ops: list[tuple]) -> bytes:
    """Line and column mutations: drop, insert, repeat or retype columns and lines."""
    lines = data.decode("utf-8", errors="replace").split("\n")
    for op, li, ci, tok in ops:
        i = li % len(lines)
        cols = lines[i].split("|")
        j = ci % (len(cols) + 1)
        token = SAM_TOKENS[tok]
        if op == 0 and len(cols) > 1:
            del cols[j % len(cols)]
        elif op == 1:
            cols.insert(j, token)
        elif op == 2:
            lines.insert(i, lines[ci % len(lines)])
            continue
        elif op == 3:
            cols[0] = token
        elif op == 4:
            del lines[i]
            if not lines:
                lines = [""]
            continue
        elif op == 5:
            cols = cols[:j]
        else:
            cols[j % len(cols)] = token
        lines[i] = "|".join(cols)
    return "\n".join(lines).encode("utf-8")


@FUZZ_SETTINGS
@given(case=sam_case(), mask=st.booleans())
def test_sam_gives_records_or_a_listed_error(case, mask):
    index, ops = case
    data = apply_sam(sam_corpus()[index], ops)
    with guarded():
        doc = outcome(parse_sam, data)
        if not isinstance(doc, errors.HometaxError):
            _export_everything(doc, mask)


def test_the_records_seeds_are_what_they_claim():
    """The records seeds reach what they aim at: the budget, the caps, the number and text paths."""
    seeds = {s.name: s for s in corpus()}
    assert isinstance(outcome(h.parse, seeds["gen/records-element-bomb"].data), errors.TooLarge)
    assert isinstance(outcome(h.parse, seeds["gen/records-attribute-bomb"].data), errors.TooLarge)
    assert isinstance(outcome(h.parse, seeds["gen/records-tails-and-formulas"].data), errors.Damaged)
    assert len(h.parse(seeds["gen/records-people-20k"].data).people()) == 20_000
    huge = h.parse(seeds["gen/records-huge-numbers"].data)
    assert next(huge.items())[2].amount is None
    assert isinstance(outcome(parse_sam, sam_corpus()[-1]), errors.TooLarge)
    assert len(next(parse_sam(sam_corpus()[-3]).items())[2].breakdown) == 12_000


def test_the_corpus_is_real_and_reaches_the_aimed_regions():
    """The fuzzer aims where it says: every kind of region is present in the real samples."""
    seeds = corpus()
    assert len(seeds) == 27 + len(_generated())
    real = [s for s in seeds if not s.name.startswith("gen/")]
    for kind in ("stream", "xref", "byte_range", "contents", "numbers"):
        assert all(kind in s.regions for s in real), kind
    # The mutations change the bytes in the region they aim at.
    seed = real[0]
    start, _end = seed.regions["byte_range"][0]
    mutated = apply(seed, [("flip", "byte_range", 0, [0xFF])])
    assert mutated[start] != seed.data[start] and len(mutated) == len(seed.data)
    assert apply(seed, [("truncate", "any", 100, 1)]) == seed.data[:100]


def test_the_guards_catch_an_unlisted_exception_and_a_memory_hog():
    """The guards themselves can fail: a stray exception propagates, a big allocation trips the cap."""

    def stray(*_):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        outcome(stray, b"")
    assert isinstance(outcome(h.extract, b"not a pdf"), errors.Damaged)
    with pytest.raises(AssertionError, match="peak RSS"):
        with guarded():
            hog = bytearray(MAX_GROWTH_MIB * 1024 * 1024)
            hog[::4096] = b"\x01" * len(hog[::4096])
    del hog


@pytest.fixture(autouse=True, scope="module")
def _configured_like_an_adapter():
    """The process set up as the CLI and the web app set theirs up at start (qpdf's decoder
    bounds, which stop the structure bombs): the library no longer does it at import."""
    h.configure_process()


def test_the_structure_bomb_seeds_are_what_they_claim():
    """The xref-stream bomb stops at qpdf's decoder limit (damaged); the object-stream bomb at the
    library's own bound, before qpdf inflates it, and the data bomb at the part limit (too_large)."""
    seeds = {s.name: s for s in corpus()}
    assert isinstance(outcome(h.extract, seeds["gen/xref-stream-bomb"].data), errors.Damaged)
    assert isinstance(outcome(h.extract, seeds["gen/object-stream-bomb"].data), errors.TooLarge)
    assert isinstance(outcome(h.extract, seeds["gen/bomb-64MiB"].data), errors.TooLarge)
