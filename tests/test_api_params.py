"""The input rules the API applies, as units: names, integers, JSON numbers, item URIs.

(The same rules over HTTP, with their 400 bodies, are in ``test_api.py``.)
"""

from __future__ import annotations

import unicodedata

import pytest

from slotwork.api.codec import whole_numbers
from slotwork.api.paths import decode_segment, work_uri
from slotwork.errors import InvalidArgument
from slotwork.params import check_map_key, parse_decimal, to_params, validate_name

FORMAT_CHARACTERS = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\ufeff",  # byte-order mark
    "\u00ad",  # soft hyphen
]


def test_a_name_is_returned_in_nfc() -> None:
    assert validate_name("cafe\u0301") == "caf\u00e9"
    assert validate_name("caf\u00e9") == "caf\u00e9"
    assert validate_name("\u212b") == "\u00c5"  # the angstrom sign is the letter Å
    assert validate_name("plain-ascii_1") == "plain-ascii_1"


@pytest.mark.parametrize("char", FORMAT_CHARACTERS)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_name_with_a_format_character_is_refused_naming_it(char: str, where: str) -> None:
    assert unicodedata.category(char) == "Cf"
    name = {"start": f"{char}ab", "middle": f"a{char}b", "end": f"ab{char}"}[where]
    with pytest.raises(InvalidArgument, match=f"U\\+{ord(char):04X}"):
        validate_name(name, "item name")


def test_the_length_limit_applies_to_the_normalised_name() -> None:
    # NFC of U+0958 is two code points (it is excluded from composition): 3 bytes become 6.
    assert len(unicodedata.normalize("NFC", "\u0958").encode()) == 6
    validate_name("\u0958" * 250)
    with pytest.raises(InvalidArgument, match="1500 bytes"):
        validate_name("\u0958" * 251)


def test_params_keys_get_the_name_rules() -> None:
    assert check_map_key("cafe\u0301", "int_params") == "caf\u00e9"
    with pytest.raises(InvalidArgument, match="U\\+200B"):
        check_map_key("max\u200bage", "int_params")
    params = to_params({"string_params": {"zone\u0301": "e\u0301u"}})
    # Keys are normalised; values are data, kept as sent.
    assert dict(params.string_params) == {"zon\u00e9": "e\u0301u"}
    with pytest.raises(InvalidArgument, match="twice"):
        to_params({"string_params": {"caf\u00e9": "a", "cafe\u0301": "b"}})


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("-1", -1), ("007", 7), ("9223372036854775807", 2**63 - 1), ("-0", 0)],
)
def test_a_decimal_string_is_ascii_digits_with_an_optional_minus(text: str, value: int) -> None:
    assert parse_decimal(text, "n") == value


# What Python's int() takes, and no other proto3 JSON parser reads as the same number.
INT_ACCEPTS = [" 12 ", "12\n", "1_000", "\u0661\u0662", "\uff11", "+5"]


@pytest.mark.parametrize("text", [*INT_ACCEPTS, "--1", "1.0", "1e3", "0x10", "", "-"])
def test_anything_else_is_not_an_integer(text: str) -> None:
    with pytest.raises(InvalidArgument, match="ASCII digits"):
        parse_decimal(text, "n")


def test_int_would_have_taken_the_odd_spellings() -> None:
    assert [int(text) for text in INT_ACCEPTS] == [12, 12, 1000, 12, 1, 5]


def test_a_huge_decimal_is_refused_without_parsing_it() -> None:
    with pytest.raises(InvalidArgument, match="64 bits"):
        parse_decimal("9" * 100_000, "n")
    with pytest.raises(InvalidArgument, match="64 bits"):
        to_params({"int_params": {"n": "9223372036854775808"}})
    assert to_params({"int_params": {"n": "0" * 30 + "1"}}).int_params["n"] == 1


def test_integral_doubles_become_json_integers_at_any_depth() -> None:
    data = {
        "stats": {"workItems": 1150.0, "mean": 0.5, "big": 1e20},
        "list": [2.0, 2.5],
        "s": "1.0",
    }
    assert whole_numbers(data) == {
        "stats": {"workItems": 1150, "mean": 0.5, "big": 10**20},
        "list": [2, 2.5],
        "s": "1.0",
    }
    assert isinstance(whole_numbers(3.0), int) and isinstance(whole_numbers(True), bool)


@pytest.mark.parametrize(
    "name", ["a#b", "a?b", "a%41", "a b", "a/b", "a:pause", "é ✓", "%2F", "+&=;,", "~._-"]
)
def test_work_uri_encodes_each_segment_so_one_decoding_gives_it_back(name: str) -> None:
    uri = work_uri("https://api.example", "my:process", name)
    assert uri.startswith("https://api.example/processes/my%3Aprocess/work/")
    segments = uri.removeprefix("https://api.example/").split("/")
    assert len(segments) == 4 and "#" not in uri and "?" not in uri
    assert [decode_segment(s) for s in segments] == ["processes", "my:process", "work", name]
