"""Routing a point or an address to a grid, on small hand-made districts near Dongxiang."""

import math
import random

import numpy as np
import pytest
import shapely
from shapely import MultiPolygon, Point, box

from redgrid.services.routing import (
    AddressCandidate,
    AddressRoute,
    CompoundEntry,
    DistrictIndex,
    GridRef,
    GridShape,
    InvalidCoordinates,
    MatchKind,
    RouteOutcome,
    normalise_address,
)

# Four 0.01° squares meeting at (116.61, 28.23), codes G01..G04 clockwise from the north-west:
#
#   28.24 +-----+-----+
#         | G01 | G02 |
#   28.23 +-----+-----+
#         | G03 | G04 |
#   28.22 +-----+-----+
#      116.60 116.61 116.62
#
# East of them G05, a 0.03° square with a 0.02° hole and a small 0.002° hole; further east
# G06, two separate squares.
BIG_HOLE = box(116.635, 28.225, 116.655, 28.245)
SMALL_HOLE = box(116.656, 28.246, 116.658, 28.248)
HOLED = shapely.Polygon(
    box(116.63, 28.22, 116.66, 28.25).exterior.coords,
    [BIG_HOLE.exterior.coords, SMALL_HOLE.exterior.coords],
)
# grid_id deliberately runs against code order: only the code decides ties.
GRIDS = (
    GridShape(16, "G01", "湖滨一网格", "大富社区", box(116.60, 28.23, 116.61, 28.24)),
    GridShape(15, "G02", "湖滨二网格", "大富社区", box(116.61, 28.23, 116.62, 28.24)),
    GridShape(14, "G03", "东铜一网格", "东铜社区", box(116.60, 28.22, 116.61, 28.23)),
    GridShape(13, "G04", "东铜二网格", "东铜社区", box(116.61, 28.22, 116.62, 28.23)),
    GridShape(12, "G05", "凤凰网格", "凤凰社区", HOLED),
    GridShape(
        11,
        "G06",
        "师水网格",
        "师水社区",
        MultiPolygon([box(116.70, 28.23, 116.71, 28.24), box(116.73, 28.23, 116.74, 28.24)]),
    ),
)
COMPOUNDS = (
    CompoundEntry("湖滨花园", ("湖滨小区", "Lakeside Garden"), 16),
    CompoundEntry("幸福家园", (), 15),
    CompoundEntry("幸福花园", (), 14),
    CompoundEntry("阳光小区", (), 15),
    CompoundEntry("阳光小区", (), 13),
    CompoundEntry("锦绣华庭", ("锦绣",), 12),
)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance, the hand computation the projected distances are checked against."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex(GRIDS, COMPOUNDS)


def code_of(route) -> str | None:
    return route.grid.code if route.grid else None


# --- points --------------------------------------------------------------------------------


def test_point_inside_a_grid(index):
    route = index.route(28.235, 116.605)
    assert route.outcome is RouteOutcome.INSIDE
    assert route.grid == GridRef(16, "G01", "湖滨一网格", "大富社区")
    assert route.distance_m == 0.0


def test_point_in_the_second_part_of_a_multipolygon(index):
    route = index.route(28.235, 116.735)
    assert (route.outcome, code_of(route)) == (RouteOutcome.INSIDE, "G06")


def test_point_just_outside_is_nearby_with_the_distance_in_metres(index):
    route = index.route(28.235, 116.622)
    assert (route.outcome, code_of(route)) == (RouteOutcome.NEARBY, "G02")
    assert route.distance_m == pytest.approx(haversine_m(28.235, 116.622, 28.235, 116.62), rel=0.02)


def test_nearest_grid_tie_goes_to_the_smallest_code(index):
    # Due south of the G03/G04 edge: exactly as far from both.
    route = index.route(28.218, 116.61)
    assert (route.outcome, code_of(route)) == (RouteOutcome.NEARBY, "G03")
    assert route.distance_m == pytest.approx(haversine_m(28.218, 116.61, 28.22, 116.61), rel=0.02)


def test_point_in_the_middle_of_a_wide_hole_is_outside(index):
    # The hole is ~1 km from its centre to its edge, far beyond the 300 m buffer.
    route = index.route(28.235, 116.645)
    assert route.outcome is RouteOutcome.OUTSIDE
    assert route.grid is None
    nearest_edge = haversine_m(28.235, 116.645, 28.235, 116.635)
    assert route.distance_m == pytest.approx(nearest_edge, rel=0.02)


def test_point_in_a_small_hole_is_nearby_its_own_grid(index):
    # A hole is not part of the grid, but its edge is ~100 m away: NEARBY, not INSIDE.
    route = index.route(28.247, 116.657)
    assert (route.outcome, code_of(route)) == (RouteOutcome.NEARBY, "G05")
    assert route.distance_m == pytest.approx(
        haversine_m(28.247, 116.657, 28.247, 116.656), rel=0.02
    )


def test_point_on_a_hole_edge_is_inside_the_holed_grid(index):
    route = index.route(28.235, 116.635)
    assert (route.outcome, code_of(route)) == (RouteOutcome.INSIDE, "G05")


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        pytest.param(28.235, 116.61, "G01", id="edge G01|G02"),
        pytest.param(28.23, 116.615, "G02", id="edge G02|G04"),
        pytest.param(28.225, 116.61, "G03", id="edge G03|G04"),
        pytest.param(28.23, 116.61, "G01", id="vertex of four grids"),
        pytest.param(28.24, 116.62, "G02", id="outer corner"),
    ],
)
def test_point_on_a_shared_boundary_goes_to_the_smallest_code_whatever_the_input_order(
    lat, lon, expected
):
    shuffled = list(GRIDS)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        route = DistrictIndex(shuffled).route(lat, lon)
        assert (route.outcome, code_of(route), route.distance_m) == (
            RouteOutcome.INSIDE,
            expected,
            0.0,
        )


def test_point_far_away_is_outside(index):
    route = index.route(39.9042, 116.4074)  # Beijing
    assert route.outcome is RouteOutcome.OUTSIDE
    assert route.grid is None
    assert route.distance_m > 1_000_000


def test_buffer_setting_is_respected():
    assert DistrictIndex(GRIDS, buffer_m=0).route(28.235, 116.622).outcome is RouteOutcome.OUTSIDE
    assert DistrictIndex(GRIDS, buffer_m=150).route(28.235, 116.622).outcome is RouteOutcome.OUTSIDE
    assert DistrictIndex(GRIDS, buffer_m=250).route(28.235, 116.622).outcome is RouteOutcome.NEARBY


def test_route_accepts_ints_and_numpy_numbers(index):
    assert code_of(index.route(np.float64(28.235), np.float32(116.605))) == "G01"
    assert index.route(28, 116).outcome is RouteOutcome.OUTSIDE


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (math.nan, 116.6, "latitude is not a finite number"),
        (28.2, math.inf, "longitude is not a finite number"),
        (91, 116.6, "latitude 91.0 is out of range [-90, 90]"),
        (28.2, -181.0, "longitude -181.0 is out of range [-180, 180]"),
        ("28.2", 116.6, "latitude must be a number"),
        (28.2, True, "longitude must be a number"),
        (None, 116.6, "latitude must be a number"),
    ],
)
def test_invalid_coordinates_are_refused(index, lat, lon, message):
    with pytest.raises(InvalidCoordinates, match=message.replace("[", r"\[")):
        index.route(lat, lon)


def test_empty_index_routes_everything_outside():
    index = DistrictIndex([])
    assert len(index) == 0
    assert index.grids == ()
    route = index.route(28.23, 116.60)
    assert (route.outcome, route.grid, route.distance_m) == (RouteOutcome.OUTSIDE, None, math.inf)
    with pytest.raises(InvalidCoordinates):
        index.route(100, 0)


def test_grids_are_listed_in_code_order(index):
    assert len(index) == 6
    assert [grid.code for grid in index.grids] == ["G01", "G02", "G03", "G04", "G05", "G06"]


@pytest.mark.parametrize(
    ("grids", "compounds", "problem"),
    [
        ([GRIDS[0], GRIDS[0]], [], "share grid_id 16"),
        ([GRIDS[0], GridShape(99, "G01", "n", "c", box(0, 0, 1, 1))], [], "share code 'G01'"),
        ([GridShape(1, "B", "n", "c", Point(116.6, 28.2))], [], "Polygon or MultiPolygon"),
        (
            [GridShape(1, "B", "n", "c", shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))],
            [],
            "invalid geometry: Self-intersection",
        ),
        ([GridShape(1, "S", "n", "c", box(28.2, 116.6, 28.3, 116.7))], [], "swapped"),
        ([GRIDS[0]], [CompoundEntry("x", (), 404)], "unknown grid 404"),
    ],
)
def test_index_refuses_data_that_would_route_wrongly(grids, compounds, problem):
    with pytest.raises(ValueError, match=problem):
        DistrictIndex(grids, compounds)


def test_route_agrees_with_brute_force_on_a_voronoi_tiling():
    rng = np.random.default_rng(7)
    frame = box(116.55, 28.18, 116.65, 28.28)
    seeds = shapely.multipoints(rng.uniform([116.55, 28.18], [116.65, 28.28], size=(200, 2)))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame)), frame
    )
    codes = [f"V{number:03d}" for number in rng.permutation(len(cells))]
    grids = [
        GridShape(i, code, code, "c", cell)
        for i, (code, cell) in enumerate(zip(codes, cells, strict=True))
    ]
    index = DistrictIndex(grids)
    # Random points over and around the tiling, plus every cell vertex (shared by 3 cells).
    lonlat = rng.uniform([116.54, 28.17], [116.66, 28.29], size=(2000, 2))
    vertices = np.unique(shapely.get_coordinates(cells), axis=0)
    lonlat = np.concatenate([lonlat, vertices])
    covers = shapely.covers(np.array(cells)[:, None], shapely.points(lonlat)[None, :])
    for (lon, lat), covered_by in zip(lonlat.tolist(), covers.T, strict=True):
        expected = min((codes[i] for i in np.flatnonzero(covered_by)), default=None)
        route = index.route(lat, lon)
        assert (code_of(route) if route.outcome is RouteOutcome.INSIDE else None) == expected


# --- addresses -----------------------------------------------------------------------------


def only(route: AddressRoute) -> AddressCandidate:
    assert len(route.candidates) == 1, route.candidates
    return route.candidates[0]


def test_exact_name(index):
    route = index.route_address(" 湖滨花园 ")
    grid = GridRef(16, "G01", "湖滨一网格", "大富社区")
    assert only(route) == AddressCandidate(grid, "湖滨花园", "湖滨花园", MatchKind.EXACT, 100)
    assert route.grid == grid


def test_exact_alias(index):
    candidate = only(index.route_address("Lakeside Garden"))
    assert (candidate.compound, candidate.matched, candidate.kind) == (
        "湖滨花园",
        "Lakeside Garden",
        MatchKind.EXACT,
    )


@pytest.mark.parametrize(
    "text",
    [
        "ＬＡＫＥＳＩＤＥ　ｇａｒｄｅｎ",
        "lakeside-GARDEN",
        "湖 滨 花 园",
        "湖滨花园。",
        "湖滨花园3栋2单元",
        "湖滨花园 ５号楼",
        "湖滨花园#3-201",
        "东乡区湖滨花园3栋2单元",
        "江西省抚州市东乡区孝岗镇湖滨小区(东门)",
    ],
)
def test_normalised_match(index, text):
    candidate = only(index.route_address(text))
    assert (candidate.compound, candidate.grid.code) == ("湖滨花园", "G01")
    assert (candidate.kind, candidate.score) == (MatchKind.NORMALISED, 100)


def test_one_candidate_per_compound_even_when_several_spellings_match(index):
    candidate = only(index.route_address("湖滨花园（湖滨小区）"))
    assert candidate.compound == "湖滨花园"


def test_a_name_that_ends_like_a_unit_is_still_found():
    index = DistrictIndex(GRIDS[:1], [CompoundEntry("滨江一号", (), 16)])
    assert only(index.route_address("滨江一号3栋2单元")).compound == "滨江一号"


def test_the_longest_contained_name_wins():
    index = DistrictIndex(
        GRIDS[:2],
        [CompoundEntry("湖滨花园", (), 16), CompoundEntry("湖滨花园东区", ("东区",), 15)],
    )
    assert only(index.route_address("湖滨花园东区8栋")).compound == "湖滨花园东区"
    assert only(index.route_address("湖滨花园8栋")).compound == "湖滨花园"


@pytest.mark.parametrize(
    ("text", "compound"),
    [("湖宾花园", "湖滨花园"), ("锦秀华庭", "锦绣华庭"), ("湖宾花园5号楼", "湖滨花园")],
)
def test_a_one_character_typo_matches_fuzzily(index, text, compound):
    candidate = only(index.route_address(text))
    assert (candidate.compound, candidate.kind) == (compound, MatchKind.FUZZY)
    assert 75 <= candidate.score < 100


def test_a_wrong_character_costs_less_than_a_shifted_name():
    index = DistrictIndex(
        GRIDS[:2], [CompoundEntry("湖滨花园", (), 16), CompoundEntry("南湖花园", (), 15)]
    )
    assert only(index.route_address("湖宾花园")).compound == "湖滨花园"


def test_similar_names_in_different_grids_are_all_candidates(index):
    route = index.route_address("幸福佳园")
    assert [(c.compound, c.grid.code) for c in route.candidates] == [
        ("幸福家园", "G02"),
        ("幸福花园", "G03"),
    ]
    assert route.grid is None


def test_same_compound_name_in_two_grids_is_ambiguous(index):
    route = index.route_address("阳光小区")
    assert [(c.grid.code, c.kind) for c in route.candidates] == [
        ("G02", MatchKind.EXACT),
        ("G04", MatchKind.EXACT),
    ]
    assert route.grid is None


def test_candidates_in_one_grid_still_give_that_grid():
    grid = GridRef(1, "G01", "n", "c")
    route = AddressRoute(
        tuple(AddressCandidate(grid, name, name, MatchKind.FUZZY, 80.0) for name in ("甲", "乙"))
    )
    assert route.grid == grid


@pytest.mark.parametrize("text", ["人民医院", "东乡一中", "湖", "3栋2单元", "", "   ", "。，"])
def test_no_match(index, text):
    route = index.route_address(text)
    assert route.candidates == ()
    assert route.grid is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("湖滨花园3栋2单元", "湖滨花园"),
        ("湖滨花园3栋", "湖滨花园"),
        ("湖滨花园5号楼", "湖滨花园"),
        ("湖滨花园2单元301室", "湖滨花园"),
        ("湖滨花园301室", "湖滨花园"),
        ("湖滨花园12幢", "湖滨花园"),
        ("湖滨花园B座", "湖滨花园"),
        ("湖滨花园三栋二单元", "湖滨花园"),
        ("湖滨花园，3栋，2单元", "湖滨花园"),
        ("Lakeside Garden Building 3", "lakesidegarden"),
        ("Lakeside Garden Unit 2", "lakesidegarden"),
        ("Lakeside Garden #3-201", "lakesidegarden"),
        ("Greenpark3栋", "greenpark"),
        ("ＬＡＫＥＳＩＤＥ　Ｇａｒｄｅｎ", "lakesidegarden"),
        ("湖滨花园（东区）", "湖滨花园东区"),
        ("湖滨花园2期", "湖滨花园2期"),  # a phase is part of the compound, not a building
        ("3栋2单元", "3栋2单元"),  # nothing would be left: kept
    ],
)
def test_normalise_address(text, expected):
    assert normalise_address(text) == expected


def test_normalise_address_handles_long_hostile_text():
    # Searching for the suffix across the whole of such text once took ~0.4 s per call.
    assert normalise_address(" " * 4000 + "x") == "x"
    assert normalise_address("1-" * 2000 + "x") == "1" * 2000 + "x"
