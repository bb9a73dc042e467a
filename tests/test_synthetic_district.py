"""The synthetic sample district: counts, names, a clean coverage, and a file that cannot drift."""

import re
from collections import Counter

import pytest
import shapely
from shapely.geometry import Point, Polygon, box, shape

from redgrid.paths import SAMPLE_DISTRICT
from redgrid.services.synthetic_district import (
    DONGXIANG_CENTER,
    check_coverage,
    dump_feature_collection,
    generate_city,
    generate_district,
)

NAMED = ("大富社区", "东铜社区", "东糖社区", "凤凰社区", "师水社区")
# Documented in data/README.md for people testing routing by hand.
HOLE_GRID, HOLE_POINT = "DX-SG-02", (116.598936, 28.215377)
EXCLAVE_GRID, EXCLAVE_POINT = "DX-DTA-04", (116.627437, 28.236925)
EDGE_GRIDS, EDGE_POINT = ("DX-DF-04", "DX-FH-04"), (116.590769, 28.243738)


@pytest.fixture(scope="module")
def district() -> dict:
    return generate_district()


@pytest.fixture(scope="module")
def props(district) -> list[dict]:
    return [f["properties"] for f in district["features"]]


@pytest.fixture(scope="module")
def geoms(district) -> dict:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in district["features"]}


def _covering(geoms: dict, lon: float, lat: float) -> list[str]:
    return sorted(code for code, g in geoms.items() if g.covers(Point(lon, lat)))


def test_communities(props):
    per_community = Counter(p["community"] for p in props)
    assert len(per_community) == 17
    assert set(NAMED) <= set(per_community)
    assert all(name.endswith("社区") for name in per_community)
    assert min(per_community.values()) >= 3


def test_grids_codes_names_households(props):
    assert len(props) == 117
    codes = [p["code"] for p in props]
    assert len(set(codes)) == 117
    assert all(re.fullmatch(r"DX-[A-Z]{2,3}-\d{2}", c) for c in codes)
    for p in props:
        assert re.fullmatch(re.escape(p["community"]) + r"第\d+网格", p["name"])
        assert isinstance(p["households"], int)
        assert 300 <= p["households"] <= 500
    # One abbreviation per community.
    abbrs = {p["community"]: p["code"].split("-")[1] for p in props}
    assert len(set(abbrs.values())) == 17


def test_compounds_unique(props):
    carrying = [p for p in props if p["compounds"]]
    assert len(carrying) == 64
    entries = [c for p in props for c in p["compounds"]]
    names = [e.split("|")[0] for e in entries]
    assert len(set(names)) == len(names)
    every_label = [label for e in entries for label in e.split("|")]
    assert len(set(every_label)) == len(every_label)
    assert all(re.search(r"(花园|小区|苑|家园|公寓|新村)$", n) for n in names)
    assert any(re.search(r"[A-Za-z]", e) for e in entries)


def test_geometry_is_a_clean_coverage(geoms):
    values = list(geoms.values())
    assert all(shapely.is_valid(values))
    assert not any(shapely.is_empty(values))
    tree = shapely.STRtree(values)
    left, right = tree.query(values, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a < b:
            assert shapely.intersection(values[a], values[b]).area < 1e-12
    assert shapely.coverage_is_valid(values)
    union = shapely.coverage_union_all(values)
    assert union.geom_type == "Polygon"
    assert len(union.interiors) == 1  # the lake, nothing else
    check_coverage(values, holes=1)


def test_plausible_extent_and_precision(district, geoms):
    minx, miny, maxx, maxy = shapely.total_bounds(list(geoms.values()))
    lon0, lat0 = DONGXIANG_CENTER
    assert minx < lon0 < maxx
    assert miny < lat0 < maxy
    width_km = (maxx - minx) * 98.0
    height_km = (maxy - miny) * 111.2
    assert 4 < width_km < 7
    assert 4 < height_km < 7
    for f in district["features"]:
        for x, y in shapely.get_coordinates(shape(f["geometry"])).tolist():
            assert round(x, 6) == x
            assert round(y, 6) == y


def test_hole_belongs_to_no_grid(geoms):
    holed = [code for code, g in geoms.items() if g.geom_type == "Polygon" and len(g.interiors) > 0]
    assert holed == [HOLE_GRID]
    lake = Polygon(geoms[HOLE_GRID].interiors[0])
    inside = lake.representative_point()
    assert _covering(geoms, inside.x, inside.y) == []
    assert lake.contains(Point(HOLE_POINT))
    assert _covering(geoms, *HOLE_POINT) == []


def test_exclave_is_a_two_part_multipolygon(geoms):
    multi = [code for code, g in geoms.items() if g.geom_type == "MultiPolygon"]
    assert multi == [EXCLAVE_GRID]
    parts = sorted(shapely.get_parts(geoms[EXCLAVE_GRID]), key=lambda g: -g.area)
    assert len(parts) == 2
    assert parts[0].distance(parts[1]) > 0
    assert parts[1].contains(Point(EXCLAVE_POINT))
    assert _covering(geoms, *EXCLAVE_POINT) == [EXCLAVE_GRID]


def test_documented_shared_edge_point(geoms):
    assert _covering(geoms, *EDGE_POINT) == sorted(EDGE_GRIDS)
    a, b = (geoms[c] for c in EDGE_GRIDS)
    assert a.intersection(b).length > 0


def test_deterministic_and_seeded(district):
    assert generate_district() == district
    assert dump_feature_collection(generate_district()) == dump_feature_collection(district)
    assert generate_district(seed=1) != district


def test_committed_file_matches_generator(district):
    expected = dump_feature_collection(district).encode("utf-8")
    assert SAMPLE_DISTRICT.read_bytes() == expected
    assert len(expected) < 1_500_000


def test_check_coverage_rejects_overlaps_and_gaps():
    check_coverage([box(0, 0, 1, 1), box(1, 0, 2, 1)])
    with pytest.raises(ValueError, match="overlap"):
        check_coverage([box(0, 0, 1, 1), box(0.5, 0, 2, 1)])
    with pytest.raises(ValueError, match="gaps"):
        check_coverage([box(0, 0, 1, 1), box(1.5, 0, 2, 1)])


def test_city_of_500():
    city = generate_city(500)
    features = city["features"]
    assert len(features) == 500
    props = [f["properties"] for f in features]
    assert len({p["code"] for p in props}) == 500
    assert all(300 <= p["households"] <= 500 for p in props)
    sizes = Counter(p["community"] for p in props)
    assert all(30 <= n <= 99 for n in sizes.values())
    names = [c for p in props for c in p["compounds"]]
    assert len(set(names)) == len(names)
    values = [shape(f["geometry"]) for f in features]
    assert all(shapely.is_valid(values))
    assert all(g.geom_type == "Polygon" for g in values)
    check_coverage(values)
    assert generate_city(500) == city
