"""A district file is checked whole: every fault named, nothing half-accepted."""

import json

import pytest

from redgrid.services.district_file import DistrictFileError, parse_district_file
from tests.district_files import collection, dumps, feature, polygon, small_district, square


def problems_of(document) -> list[str]:
    raw = document if isinstance(document, bytes | str) else dumps(document)
    with pytest.raises(DistrictFileError) as caught:
        parse_district_file(raw)
    return caught.value.problems


def test_small_district_is_read_with_compounds_and_aliases():
    plan = parse_district_file(dumps(small_district()))
    assert [grid.code for grid in plan.grids] == ["A", "B", "C"]
    assert plan.communities == ("大富社区", "东铜社区")
    a = plan.grids[0]
    assert a.compounds[0].name == "湖滨花园"
    assert a.compounds[0].aliases == ("湖滨小区", "Lakeside Garden")
    assert len(a.geometry.interiors) == 1
    assert plan.grids[2].geometry.geom_type == "MultiPolygon"
    assert plan.grids[2].households is None
    assert plan.warnings == ()


def test_numeric_code_is_accepted_as_text():
    plan = parse_district_file(dumps(collection(feature(17, polygon(square(0, 0))))))
    assert plan.grids[0].code == "17"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"type": "FeatureCollection", "features": [NaN]}', "not valid JSON"),
        (b"[]", "not a GeoJSON FeatureCollection"),
        (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection"}', 'no "features" list'),
        (b'{"type": "FeatureCollection", "features": []}', "no features"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # a RecursionError before
    ],
)
def test_file_level_faults(raw, expected):
    [problem] = problems_of(raw)
    assert expected in problem


def test_foreign_crs_is_refused_and_wgs84_accepted():
    document = collection(feature("A", polygon(square(0, 0))))
    document["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
    assert "WGS84" in problems_of(document)[0]
    document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert parse_district_file(dumps(document)).grids


def deep(value: list, levels: int) -> list:
    for _ in range(levels):
        value = [value]
    return value


def bowtie() -> dict:
    return polygon(
        [[116.60, 28.23], [116.61, 28.24], [116.61, 28.23], [116.60, 28.24], [116.60, 28.23]]
    )


@pytest.mark.parametrize(
    ("bad_feature", "expected"),
    [
        (feature(None, polygon(square(0, 0))), 'has no "code"'),
        (feature("  ", polygon(square(0, 0))), 'has no "code"'),
        (feature("X" * 40, polygon(square(0, 0))), "code is longer than 32"),
        (feature("X", polygon(square(0, 0)), name=" "), 'has no "name"'),
        (feature("X", polygon(square(0, 0)), community=None), 'has no "community"'),
        (feature("X", polygon(square(0, 0)), households=0), "households must be a positive"),
        (feature("X", polygon(square(0, 0)), households="400"), "households must be a positive"),
        (feature("X", polygon(square(0, 0)), households=True), "households must be a positive"),
        (feature("X", polygon(square(0, 0)), compounds="湖滨花园"), '"compounds" must be a list'),
        (feature("X", polygon(square(0, 0)), compounds=["|alias"]), "compound #1 has no name"),
        (feature("X", polygon(square(0, 0)), compounds=["甲", "甲|乙"]), "listed twice"),
        (feature("X", None), "has no geometry"),
        (feature("X", {"type": "Point", "coordinates": [116.6, 28.23]}), "Polygon or Multi"),
        (feature("X", {"type": "Polygon", "coordinates": []}), "has no coordinates"),
        (feature("X", {"type": "Polygon", "coordinates": [[["a", "b"]]]}), "nested lists"),
        # A ring where the rings' list belongs; a ring buried 900 lists deep (which
        # reached the parser but crashed shapely with a RecursionError).
        (feature("X", {"type": "Polygon", "coordinates": square(0, 0)}), "nested lists"),
        (feature("X", {"type": "Polygon", "coordinates": deep(square(0, 0), 900)}), "nested"),
        (feature("X", bowtie()), "geometry is invalid: Self-intersection"),
        (feature("X", polygon([[116.6, 28.23], [116.61, 28.23], [116.6, 28.23]])), "geometry"),
        (
            feature("X", polygon([[200.0, 28.23], [201, 28.23], [201, 28.24], [200.0, 28.23]])),
            "out of range",
        ),
        (
            feature(
                "X", polygon([[28.23, 116.6], [28.24, 116.6], [28.24, 116.61], [28.23, 116.6]])
            ),
            "swapped",
        ),
    ],
)
def test_feature_faults_name_the_feature(bad_feature, expected):
    good = feature("GOOD", polygon(square(5, 5)))
    [problem] = problems_of(collection(good, bad_feature))
    assert problem.startswith("feature #2")
    assert expected in problem


def test_not_a_feature():
    [problem] = problems_of(collection({"type": "Polygon"}))
    assert problem == "feature #1: is not a GeoJSON Feature"


def test_duplicate_codes_name_both_features():
    document = collection(
        feature("A", polygon(square(0, 0))),
        feature("B", polygon(square(1, 0))),
        feature("A", polygon(square(2, 0))),
    )
    [problem] = problems_of(document)
    assert problem == "feature #3 (code 'A'): duplicate code 'A' (already used by feature #1)"


def test_every_fault_is_reported_at_once():
    document = collection(
        feature(None, polygon(square(0, 0))),
        feature("B", bowtie(), households=-1),
        feature("C", polygon(square(2, 0))),
    )
    problems = problems_of(document)
    assert len(problems) == 3
    assert [p.split(":")[0] for p in problems] == [
        "feature #1",
        "feature #2 (code 'B')",
        "feature #2 (code 'B')",
    ]


def test_overlapping_grids_are_accepted_with_a_warning():
    document = collection(
        feature("A", polygon(square(0, 0))),
        feature("B", polygon(square(0, 0, size=0.005))),
    )
    plan = parse_district_file(dumps(document))
    [warning] = plan.warnings
    assert "'A' and 'B' overlap" in warning


def test_utf8_bom_is_accepted():
    raw = "\ufeff" + json.dumps(small_district(), ensure_ascii=False)
    assert len(parse_district_file(raw.encode()).grids) == 3
