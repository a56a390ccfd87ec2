"""Plate text rules of :func:`ccpd.plates.is_valid_text` against GA 36 (sources: docs/design.md,
"Plate text rules (GA 36)"): a table of texts with the rule each exercises, the real labels of the
shared data, and properties of the random generator."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import LPRNet.chars as chars
from ccpd import plates
from ccpd.annotations import CCPDNameError, parse_name
from ccpd.plates import PLATE_TYPES, is_valid_text, random_text
from ccpd.sources import looks_like_plate_text

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # the property tests skip
    given = None

VALID = [
    ("京A12345", "ordinary: province + office letter + 5 digits"),
    ("苏A1P234", "ordinary: one serial letter"),
    ("浙BAB987", "ordinary: two serial letters"),
    ("云A526EG", "ordinary: letters at serial positions 4 and 5 (a real label)"),
    ("吉AA266G", "ordinary: letters at serial positions 1 and 5 (a real label)"),
    ("粤O12345", "O series: office code O + 5 digits"),
    ("京OA1234", "O series: office code O + a serial letter"),
    ("陕O1313警", "O series: police plate of the provincial department"),
    ("浙OD250警", "O series: police form with a serial letter"),
    ("粤BD12345", "small new-energy: D + 5 digits"),
    ("粤BDF1234", "small new-energy: D + letter + 4 digits"),
    ("沪AF12345", "small new-energy: F + 5 digits"),
    ("苏AA12345", "small new-energy: battery-electric letter A after D"),
    ("粤BKA1234", "small new-energy: other-new-energy letter K after F"),
    ("粤B12345D", "large new-energy: 5 digits + D"),
    ("粤B12345F", "large new-energy: 5 digits + F"),
    ("京A1234学", "coach: 4 + 学"),
    ("京C0544挂", "trailer: 4 + 挂"),
    ("京A0001警", "police: 4 + 警"),
    ("京AA250警", "police: court-system form, a letter first in the serial"),
    ("沪A0023领", "consulate: 4 + 领"),
    ("粤Z1234港", "Hong Kong crossing: 粤Z + 4 + 港"),
    ("粤ZA123澳", "Macau crossing: 粤Z + letter + 3 digits + 澳"),
    ("使224009", "embassy: 使 + 3-digit mission code + 3-digit number"),
]

INVALID = [
    ("粤B1O345", "O never in a serial"),
    ("粤OO1234", "O never in a serial, also after office code O"),
    ("粤BDO1234", "O never in a new-energy serial"),
    ("皖I12345", "I is no office code"),
    ("皖A1I345", "I never in a serial"),
    ("皖AD1I345", "I never in a new-energy serial"),
    ("皖AABC12", "at most 2 letters in a serial"),
    ("皖ABCDE1", "at most 2 letters in a serial"),
    ("粤ZAB1C港", "at most 2 letters in a 4-character serial"),
    ("京Z1234港", "港 only after 粤Z"),
    ("皖A1234港", "港 only after 粤Z"),
    ("粤B1234澳", "澳 only after 粤Z"),
    ("粤Z12345", "粤Z is the Hong Kong / Macau office only"),
    ("粤Z1234学", "粤Z is the Hong Kong / Macau office only"),
    ("粤ZD12345", "粤Z carries no new-energy plate"),
    ("粤O1234学", "no O form of coach plates"),
    ("粤O1234挂", "no O form of trailer plates"),
    ("粤O1234领", "no O form of consulate plates"),
    ("粤OD12345", "no O form of new-energy plates"),
    ("粤O12345D", "no O form of new-energy plates"),
    ("粤BL12345", "L is no energy letter"),
    ("粤B12345L", "L is no energy letter"),
    ("粤BD1234A", "small new-energy: the last 4 are digits"),
    ("粤BDAB123", "small new-energy: the last 4 are digits"),
    ("粤B1234DF", "large new-energy: 5 digits, then the energy letter"),
    ("皖A123456", "8 characters need an energy letter"),
    ("皖A1234", "too short"),
    ("皖AD123456", "too long"),
    ("", "empty"),
    ("皖112345", "a digit in second place"),
    ("皖1D12345", "a digit in second place"),
    ("皖a12345", "lower-case letters are no plate letters"),
    ("皖A１２３４５", "full-width digits are no plate digits"),
    ("皖A１２３４５D", "full-width digits are no plate digits (large new-energy)"),
    ("京A警1234", "a mark only in the last place"),
    ("沪A1234使", "使 only first"),
    ("使A24009", "embassy: 6 digits after 使"),
    ("使22400", "embassy: 6 digits after 使"),
    ("港A12345", "港 is no province"),
    ("台A12345", "台 is no province of the table"),
    ("AA12345", "a Latin letter is no province"),
]


@pytest.mark.parametrize("text, rule", VALID, ids=[t for t, _ in VALID])
def test_valid_texts(text, rule):
    assert is_valid_text(text), rule
    assert chars.is_encodable(text), "the recognizer has a class for every character"


@pytest.mark.parametrize("text, rule", INVALID, ids=[t or "empty" for t, _ in INVALID])
def test_invalid_texts(text, rule):
    assert not is_valid_text(text), rule


def test_o_series_crops_are_read_by_name():
    assert looks_like_plate_text("粤O12345") and looks_like_plate_text("使224009")
    assert not looks_like_plate_text("粤I12345") and not looks_like_plate_text("粤O1234")


def test_lprnet_tables_take_the_characters_from_ccpd_plates():
    assert chars.PROVINCE_CHARS is plates.PROVINCES and chars.LETTERS is plates.LETTERS
    assert chars.DIGITS is plates.DIGITS and chars.MARK_CHARS is plates.MARKS
    assert "".join(chars.ORIGINAL_CHARS) == (
        "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新0123456789ABCDEFGHJKLMNPQRSTUVWXYZIO-")
    assert "".join(chars.CHARS) == "".join(chars.ORIGINAL_CHARS) + "警学挂港澳使领"
    assert chars.CHARS[chars.BLANK] == "-" and len(chars.CHARS) == 75


def _shared_texts(root: Path) -> set:
    """Plate texts of the shared data's labels: crop names, labels.tsv files, CCPD names."""
    texts = {p.stem.split("_")[0] for p in (root / "plate_crops").glob("*.jpg")}
    for name in ("plate_crops_more", "scenes", "scenes_train"):
        with open(root / name / "labels.tsv", encoding="utf-8", newline="") as f:
            texts |= {row["text"] for row in csv.DictReader(f, delimiter="\t")}
    for p in (root / "ccpd_sample").rglob("*.jpg"):
        try:
            texts.add(parse_name(str(p)).text)
        except CCPDNameError:
            pass
    return texts


def test_every_real_label_of_the_shared_data_is_valid(shared_data):
    texts = _shared_texts(shared_data)
    assert len(texts) > 1000
    assert sorted(t for t in texts if not is_valid_text(t)) == []


def test_the_generator_keeps_guangdong_z_for_hong_kong_and_macau():
    rng = np.random.default_rng(0)
    weights = [0.0] * len(plates.PROVINCES)
    weights[plates.PROVINCES.index("粤")] = 1.0
    offices = {random_text(PLATE_TYPES["blue"], rng, weights)[1] for _ in range(400)}
    assert "Z" not in offices and len(offices) == len(plates.LETTERS) - 1


if given is not None:
    _weights = st.one_of(st.none(), st.lists(st.floats(0.0, 10.0), min_size=31, max_size=31)
                         .filter(lambda w: sum(w) > 0))

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(sorted(PLATE_TYPES)), st.integers(0, 2 ** 32 - 1), _weights)
    def test_every_generated_text_is_valid(name, seed, weights):
        plate = PLATE_TYPES[name]
        text = random_text(plate, np.random.default_rng(seed), weights)
        assert len(text) == plate.length and is_valid_text(text), (name, text)
        assert chars.is_encodable(text)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(sorted(PLATE_TYPES)), st.integers(0, 2 ** 32 - 1), st.data())
    def test_i_or_o_anywhere_in_a_generated_serial_makes_it_invalid(name, seed, data):
        plate = PLATE_TYPES[name]
        text = random_text(plate, np.random.default_rng(seed))
        end = len(text) - 1 if text[-1] in plates.MARKS else len(text)
        k = data.draw(st.integers(2, end - 1))
        bad = data.draw(st.sampled_from("IO"))
        assert not is_valid_text(text[:k] + bad + text[k + 1:]), (name, text, k, bad)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(sorted(PLATE_TYPES)), st.integers(0, 2 ** 32 - 1))
    def test_office_code_o_only_for_ordinary_and_police_plates(name, seed):
        text = random_text(PLATE_TYPES[name], np.random.default_rng(seed))
        o_series = text[0] + "O" + text[2:]
        if text[:2] == "粤Z" or len(text) == 8 or text[-1] in "学挂":
            assert not is_valid_text(o_series), o_series
        else:
            assert is_valid_text(o_series), o_series
else:
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_every_generated_text_is_valid():
        pass
