"""CCPD names: parsing, formatting, every table entry, malformed names; subsets and splits."""
import os

import pytest

from ccpd.annotations import ADS, ALPHABETS, PROVINCES, CCPDNameError, CCPDRecord, format_name, parse_name
from ccpd.subsets import discover_subsets, read_split, scan_root, split_samples

NAME = "025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg"


def test_parse_known_name():
    r = parse_name(NAME)
    assert r.area == "025" and r.tilt == (95, 113)
    assert r.bbox == (154, 383, 386, 473)
    assert r.vertices == ((386, 473), (177, 454), (154, 383), (363, 402))
    assert r.text == "皖AY339S" and not r.is_green
    assert (r.brightness, r.blur) == (37, 15)
    assert format_name(r) == NAME
    assert parse_name("/some/dir/" + NAME) == r


def test_green_eight_characters_round_trip():
    name = "0136360677083-95_103-255&434_432&512-432&512_267&494_255&434_426&449-0_0_3_24_30_31_33_33-150-24.jpg"
    r = parse_name(name)
    assert r.is_green and r.text == "皖AD06799" and len(r.text) == 8
    assert format_name(r) == name


@pytest.mark.parametrize("table,pos", [(PROVINCES, 0), (ALPHABETS, 1), (ADS, 2), (ADS, 6)])
def test_every_table_entry_round_trips(table, pos):
    for i, ch in enumerate(table):
        idx = [0, 0, 0, 0, 0, 0, 0]
        idx[pos] = i
        r = CCPDRecord("1", (90, 90), (1, 2, 30, 12), ((30, 12), (1, 12), (1, 2), (30, 2)), tuple(idx), 10, 20)
        assert parse_name(format_name(r)) == r
        if ch != "O":
            assert r.text[pos] == ch
        else:
            assert len(r.text) == 6  # "O" marks an empty slot


def test_from_text():
    r = CCPDRecord.from_text("京AD12345", (0, 0, 10, 3), [(10, 3), (0, 3), (0, 0), (10, 0)])
    assert r.text == "京AD12345" and parse_name(format_name(r)) == r
    with pytest.raises(CCPDNameError):
        CCPDRecord.from_text("京A1234", (0, 0, 1, 1), [(0, 0)] * 4)
    with pytest.raises(CCPDNameError):
        CCPDRecord.from_text("京I12345", (0, 0, 1, 1), [(0, 0)] * 4)


@pytest.mark.parametrize("name,field", [
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37.jpg", "7 fields"),
    ("x25-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "area"),
    ("025-95-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "tilt"),
    ("025-95_113-154&383-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "bbox"),
    ("025-95_113-386&473_154&383-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg", "bbox"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383-0_0_22_27_27_33_16-37-15.jpg", "vertices"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33-37-15.jpg", "plate"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-40_0_22_27_27_33_16-37-15.jpg", "position 0"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_35-37-15.jpg", "position 6"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-bright-15.jpg", "brightness"),
    ("car.jpg", "7 fields"),
])
def test_malformed_names_say_which_field(name, field):
    with pytest.raises(CCPDNameError, match=field):
        parse_name(name)


def test_scan_skips_and_reports_malformed(tmp_path):
    sub = tmp_path / "ccpd_base"
    sub.mkdir()
    (sub / NAME).write_bytes(b"")
    (sub / "holiday.jpg").write_bytes(b"")
    (tmp_path / "ccpd_np").mkdir()
    (tmp_path / "ccpd_np" / "anything.jpg").write_bytes(b"")
    result = scan_root(str(tmp_path))
    assert {s.subset for s in result.samples} == {"ccpd_base", "ccpd_np"}
    assert [os.path.basename(p) for p, _ in result.skipped] == ["holiday.jpg"]
    assert "7 fields" in result.skipped[0][1]
    assert list(result.by_subset()) == ["ccpd_base", "ccpd_np"]
    with pytest.raises(FileNotFoundError, match="ccpd_fn"):
        scan_root(str(tmp_path), ["ccpd_fn"])


def test_split_lists_and_deterministic_split(tmp_path):
    (tmp_path / "ccpd_base").mkdir()
    names = []
    for i in range(10):
        n = NAME.replace("025-", f"{i:03d}-")
        (tmp_path / "ccpd_base" / n).write_bytes(b"")
        names.append(n)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("\n".join(f"ccpd_base/{n}" for n in names[:4]) + "\n")
    res = read_split(str(tmp_path), "test")
    assert len(res.samples) == 4 and {s.subset for s in res.samples} == {"ccpd_base"}
    with pytest.raises(FileNotFoundError, match="val"):
        read_split(str(tmp_path), "val")
    samples = scan_root(str(tmp_path)).samples
    a = split_samples(samples, 0.3, seed=1)
    b = split_samples(list(reversed(samples)), 0.3, seed=1)
    assert [s.path for s in a[1]] == [s.path for s in b[1]] and len(a[1]) == 3
    assert not set(s.path for s in a[0]) & set(s.path for s in a[1])
    assert discover_subsets(str(tmp_path)) == {"ccpd_base": str(tmp_path / "ccpd_base")}


def test_real_sample_names_parse(shared_data):
    result = scan_root(str(shared_data / "ccpd_sample"))
    assert len(result.samples) == 600 and not result.skipped
    assert all(len(s.record.text) == 7 for s in result.samples)
