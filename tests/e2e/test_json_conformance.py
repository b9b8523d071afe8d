"""JSONTestSuite (../shared/testdata/JSONTestSuite/test_parsing) through the envelope-check binary.

docs/json.md: every y_ case is accepted, every n_ case rejected, and the implementation-defined i_ cases follow the
table of choices there, "asserted case by case". The Swift unit test (Tests/MedallionCoreTests/JSONScannerTests.swift)
scans each file's bytes directly; here each file goes through the real filter, as one NDJSON line.

How a line's outcome is read: envelope-check reports the first problem of a line (docs/dlq.md). A line the JSON
scanner rejects is `invalid_utf8`, `invalid_json` or `too_deep`; a line it accepts goes on to the envelope checks,
so a top-level array/number/string is `not_an_object` and a top-level object fails an envelope check
(`unknown_field`, `missing_field`). So "parsed" means: a reason outside PARSE_REJECTIONS.
An accepted document is also wrapped as a payload member of a valid envelope (`"payload":{"v":DOC}`), which must then
pass through byte for byte; a rejected one must be rejected for the same reason inside the envelope too (docs/envelope.md:
the whole line is validated, not only the envelope).

Newlines: JSON allows LF as whitespace between tokens, so a few documents span lines (y_array_with_1_and_newline,
y_object_with_newlines, y_structure_trailing_newline, y_number_double_close_to_zero, n_array_newlines_unclosed,
n_array_unclosed_with_new_lines, n_number_invalid-utf-8-in-int, n_object_bracket_key, n_string_unescaped_newline,
n_structure_open_array_object). NDJSON framing cuts lines at LF, so a document cannot be sent as is. The Swift test
has no framing (it scans the whole file), so it needs no choice. Here every LF byte becomes a TAB before the line is
sent: both are insignificant whitespace between tokens, both are control characters that are invalid unescaped
inside a string (n_string_unescaped_newline stays invalid), and neither can be part of a literal, number or escape.
So the mapping keeps every document's verdict. No file contains CR (which the framing would drop before LF).
"""
import base64
import itertools
import pytest

from conftest import SHARED, binary, envelope, line, read_ndjson, run, summary

SUITE = SHARED / "testdata" / "JSONTestSuite" / "test_parsing"
PARSE_REJECTIONS = {"invalid_utf8", "invalid_json", "too_deep"}
ACCEPTED = "accepted"
_runs = itertools.count()


def cases(prefix):
    return sorted(p.name for p in SUITE.glob(f"{prefix}_*.json"))


def as_line(doc: bytes) -> bytes:
    """One NDJSON line carrying the document (LF -> TAB, see the module docstring)."""
    assert b"\r" not in doc
    return doc.replace(b"\n", b"\t")


def as_payload(doc: bytes) -> bytes:
    """A valid envelope whose payload is {"v": DOC}, the document's bytes spliced in unchanged (but for LF -> TAB)."""
    return line(envelope(payload={"v": "@@doc@@"}))[:-1].replace(b'"@@doc@@"', as_line(doc))


def check(tmp_path, text: bytes, *, passes: bool):
    """Runs envelope-check on one line; returns None if it passed through, else the DLQ record's reason."""
    dlq = tmp_path / f"dlq-{next(_runs)}.ndjson"  # a fresh DLQ file per run (a DLQ file is appended to)
    status, out, err = run([binary("envelope-check"), "--tenant", "acme", "--dlq", str(dlq)], text + b"\n", timeout=60)
    assert status == 0, err  # whatever the document, no crash, no failure exit
    s = summary(err)
    if out:
        assert out == text + b"\n"  # byte for byte
        assert not dlq.exists() or read_ndjson(dlq) == []
        assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (1, 1, 0)
        reason = None
    else:
        [rec] = read_ndjson(dlq)
        assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (1, 0, 1)
        kept = rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])
        assert kept == text and rec["raw_length"] == len(text)  # the DLQ keeps the exact line
        reason = rec["reason"]
    assert (reason is None) == passes, reason
    return reason


def is_utf8(doc: bytes) -> bool:
    try:
        doc.decode("utf-8")  # strict: rejects overlong forms, encoded surrogates, > U+10FFFF, truncated sequences
        return True
    except UnicodeDecodeError:
        return False


# ---------------------------------------------------------------- i_: the documented choices, one by one

# Each i_ case with the outcome docs/json.md prescribes: ACCEPTED (the scanner parses it; at top level the line is
# then `not_an_object`, since every accepted i_ document is an array) or the reason of its rejection.
I_CASES = {
    # "very large numbers / exponents (1e999, 100-digit integers): accepted by the scanner"
    "i_number_double_huge_neg_exp.json": ACCEPTED,
    "i_number_huge_exp.json": ACCEPTED,
    "i_number_neg_int_huge_exp.json": ACCEPTED,
    "i_number_pos_double_huge_exp.json": ACCEPTED,
    "i_number_real_neg_overflow.json": ACCEPTED,
    "i_number_real_pos_overflow.json": ACCEPTED,
    "i_number_real_underflow.json": ACCEPTED,
    "i_number_too_big_neg_int.json": ACCEPTED,
    "i_number_too_big_pos_int.json": ACCEPTED,
    "i_number_very_big_negative_int.json": ACCEPTED,
    # "nesting depth: at most 512 arrays/objects": 500 is within the limit
    "i_structure_500_nested_arrays.json": ACCEPTED,
    # "lone or mismatched \uD800-style surrogate escapes: rejected" (well-formed UTF-8, so a JSON rejection)
    "i_object_key_lone_2nd_surrogate.json": "invalid_json",
    "i_string_1st_surrogate_but_2nd_missing.json": "invalid_json",
    "i_string_1st_valid_surrogate_2nd_invalid.json": "invalid_json",
    "i_string_incomplete_surrogate_and_escape_valid.json": "invalid_json",
    "i_string_incomplete_surrogate_pair.json": "invalid_json",
    "i_string_incomplete_surrogates_escape_valid.json": "invalid_json",
    "i_string_invalid_lonely_surrogate.json": "invalid_json",
    "i_string_invalid_surrogate.json": "invalid_json",
    "i_string_inverted_surrogates_U+1D11E.json": "invalid_json",
    "i_string_lone_second_surrogate.json": "invalid_json",
    # "invalid UTF-8 inside strings (overlong forms, encoded surrogates, > U+10FFFF, truncated sequences): invalid_utf8"
    "i_string_UTF-8_invalid_sequence.json": "invalid_utf8",
    "i_string_UTF8_surrogate_U+D800.json": "invalid_utf8",
    "i_string_invalid_utf-8.json": "invalid_utf8",
    "i_string_iso_latin_1.json": "invalid_utf8",
    "i_string_lone_utf8_continuation_byte.json": "invalid_utf8",
    "i_string_not_in_unicode_range.json": "invalid_utf8",
    "i_string_overlong_sequence_2_bytes.json": "invalid_utf8",
    "i_string_overlong_sequence_6_bytes.json": "invalid_utf8",
    "i_string_overlong_sequence_6_bytes_null.json": "invalid_utf8",
    "i_string_truncated-utf-8.json": "invalid_utf8",
    # UTF-16 is not UTF-8 (NDJSON is UTF-8; dlq.md: UTF-8 is checked before JSON syntax)
    "i_string_UTF-16LE_with_BOM.json": "invalid_utf8",
    "i_string_utf16BE_no_BOM.json": "invalid_utf8",
    "i_string_utf16LE_no_BOM.json": "invalid_utf8",
    # "byte-order mark: rejected": EF BB BF is well-formed UTF-8, so it is a JSON rejection
    "i_structure_UTF-8_BOM_empty_object.json": "invalid_json",
}


def test_every_i_case_of_the_suite_has_a_pinned_outcome():
    assert sorted(I_CASES) == cases("i"), "a new i_ case needs its outcome here (and in docs/json.md)"
    assert len(I_CASES) >= 30


@pytest.mark.parametrize("name", cases("i"))
def test_implementation_defined_case_follows_docs_json_md(tmp_path, name):
    doc = (SUITE / name).read_bytes()
    expected = I_CASES[name]
    reason = check(tmp_path, as_line(doc), passes=False)
    if expected == ACCEPTED:
        assert reason not in PARSE_REJECTIONS, f"{name}: docs/json.md says accepted, got {reason}"
        assert reason == "not_an_object"
        check(tmp_path, as_payload(doc), passes=True)
    else:
        assert reason == expected, f"{name}: docs/json.md says {expected}, got {reason}"
        assert check(tmp_path, as_payload(doc), passes=False) == expected
    assert (reason == "invalid_utf8") == (not is_utf8(doc))


# ---------------------------------------------------------------- y_: must parse

@pytest.mark.parametrize("name", cases("y"))
def test_must_parse(tmp_path, name):
    doc = (SUITE / name).read_bytes()
    assert is_utf8(doc)
    reason = check(tmp_path, as_line(doc), passes=False)  # no y_ document is an envelope
    assert reason not in PARSE_REJECTIONS, f"{name} must parse, got {reason}"
    assert reason in ("not_an_object", "unknown_field", "missing_field")
    check(tmp_path, as_payload(doc), passes=True)  # inside a payload it passes, byte for byte


# ---------------------------------------------------------------- n_: must be rejected by the parser

TOO_DEEP = {"n_structure_100000_opening_arrays.json", "n_structure_open_array_object.json"}  # > 512 levels before the error


@pytest.mark.parametrize("name", cases("n"))
def test_must_be_rejected_as_invalid_json_or_utf8(tmp_path, name):
    doc = (SUITE / name).read_bytes()
    reason = check(tmp_path, as_line(doc), passes=False)
    if name in TOO_DEEP:
        assert reason == "too_deep"
    elif not is_utf8(doc):
        assert reason == "invalid_utf8"  # dlq.md: UTF-8 is checked before JSON syntax
    else:
        assert reason == "invalid_json", f"{name} must be rejected as invalid JSON, got {reason}"


def test_the_suite_is_all_there():
    assert len(cases("y")) >= 95 and len(cases("n")) >= 180 and len(cases("i")) >= 30
