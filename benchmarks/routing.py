"""How fast DistrictIndex.route() is, against a linear scan, and whether the two agree.

    .venv/bin/python benchmarks/routing.py [--points N]

For the 117-grid sample district and a generated 10,000-grid city: build the index, time
route() over random points in the bounding box, time a linear scan over the same polygons,
and check that both pick the same grid for every point. The linear scan and the agreement
check work on the lon/lat polygons, not the index's projected copies, so they also catch a
projection that moves a point across an edge. Prints figures; exits 1 on any disagreement.
Targets: >= 50,000 lookups/s (district), >= 20,000/s and >= 100x linear (10,000 grids).
"""

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import rapidfuzz
import shapely
from shapely.geometry import shape

from redgrid.services.routing import CompoundEntry, DistrictIndex, GridShape, RouteOutcome
from redgrid.services.synthetic_district import generate_city, generate_district

T = TypeVar("T")


def district_from_geojson(fc: dict) -> tuple[list[GridShape], list[CompoundEntry]]:
    """Grids and compounds of a FeatureCollection; grid ids are feature positions from 1."""
    grids, compounds = [], []
    for grid_id, feature in enumerate(fc["features"], start=1):
        properties = feature["properties"]
        grids.append(
            GridShape(
                grid_id,
                properties["code"],
                properties["name"],
                properties["community"],
                shape(feature["geometry"]),
            )
        )
        for entry in properties.get("compounds") or ():
            name, *aliases = entry.split("|")
            compounds.append(CompoundEntry(name, tuple(aliases), grid_id))
    return grids, compounds


class LinearScan:
    """The baseline: every polygon part, prepared, in grid-code order; the first hit wins."""

    def __init__(self, grids: list[GridShape]) -> None:
        ordered = sorted(grids, key=lambda grid: grid.code)
        self.parts, owner = shapely.get_parts(
            [grid.geometry for grid in ordered], return_index=True
        )
        shapely.prepare(self.parts)
        self.code_of_part = np.array([ordered[i].code for i in owner.tolist()], dtype=object)
        self._pairs = list(zip(self.parts.tolist(), self.code_of_part.tolist(), strict=True))

    def route_loop(self, lat: float, lon: float) -> str | None:
        """A Python loop over the parts, one intersects_xy call each: the textbook scan."""
        for part, code in self._pairs:
            if shapely.intersects_xy(part, lon, lat):
                return code
        return None

    def route_vectorised(self, lat: float, lon: float) -> str | None:
        """One intersects_xy call over all parts: GEOS does the loop, envelope tests first."""
        hits = shapely.intersects_xy(self.parts, lon, lat)
        return self.code_of_part[hits.argmax()] if hits.any() else None

    def route_all(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Every point at once: each part tests only the points inside its bounding box."""
        order = np.argsort(lons)
        sorted_lons, sorted_lats = lons[order], lats[order]
        resolved = np.zeros(len(lons), dtype=bool)
        codes = np.full(len(lons), None, dtype=object)
        # Parts come in code order, so a point keeps the first (smallest) code that covers it.
        for part, code in zip(self.parts, self.code_of_part, strict=True):
            min_lon, min_lat, max_lon, max_lat = part.bounds
            start = np.searchsorted(sorted_lons, min_lon, side="left")
            stop = np.searchsorted(sorted_lons, max_lon, side="right")
            in_box = (sorted_lats[start:stop] >= min_lat) & (sorted_lats[start:stop] <= max_lat)
            window = start + np.flatnonzero(in_box & ~resolved[start:stop])
            covered = window[shapely.intersects_xy(part, sorted_lons[window], sorted_lats[window])]
            resolved[covered] = True
            codes[order[covered]] = code
        return codes


def random_points(
    grids: list[GridShape], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over the bounding box of all grids, as (lats, lons)."""
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds([g.geometry for g in grids])
    return rng.uniform(min_lat, max_lat, count), rng.uniform(min_lon, max_lon, count)


def timed(
    lookup: Callable[[float, float], T], spots: list[tuple[float, float]]
) -> tuple[float, list[T]]:
    """Lookups per second of ``lookup`` over ``spots`` (lat, lon), and its answers."""
    started = time.perf_counter()
    answers = [lookup(lat, lon) for lat, lon in spots]
    return len(spots) / (time.perf_counter() - started), answers


def bench_case(label: str, fc: dict, points: int, linear_points: int, seed: int) -> int:
    """Print one case's figures and return its number of disagreements."""
    grids, compounds = district_from_geojson(fc)
    parts = int(shapely.get_num_geometries([g.geometry for g in grids]).sum())
    vertices = int(shapely.get_num_coordinates([g.geometry for g in grids]).sum())
    print(f"\n== {label}: {len(grids):,} grids, {parts:,} parts, {vertices:,} vertices")

    started = time.perf_counter()
    index = DistrictIndex(grids, compounds)
    print(f"build DistrictIndex     {time.perf_counter() - started:8.3f} s")

    lats, lons = random_points(grids, points, np.random.default_rng(seed))
    spots = list(zip(lats.tolist(), lons.tolist(), strict=True))
    tree_rate, routes = timed(index.route, spots)
    shares = Counter(r.outcome for r in routes)
    print(
        f"points                  {points:,} in the bounding box: "
        + ", ".join(f"{o.value} {shares[o] / points:.1%}" for o in RouteOutcome)
    )
    print(f"STRtree route()         {tree_rate:12,.0f} lookups/s  ({points:,} points)")
    tree_codes = [r.grid.code if r.outcome is RouteOutcome.INSIDE else None for r in routes]
    inside = [spot for spot, code in zip(spots, tree_codes, strict=True) if code]
    inside_rate, _ = timed(index.route, inside)
    print(f"  INSIDE points only    {inside_rate:12,.0f} lookups/s  ({len(inside):,} points)")

    linear = LinearScan(grids)
    sample = spots[:linear_points]
    disagreements = 0
    for name, scan in (("loop", linear.route_loop), ("vectorised", linear.route_vectorised)):
        rate, codes = timed(scan, sample)
        disagreements += sum(a != b for a, b in zip(codes, tree_codes, strict=False))
        print(
            f"linear scan, {name:<11}{rate:12,.0f} lookups/s  ({len(sample):,} points);"
            f" STRtree / linear = {tree_rate / rate:,.1f}x"
        )

    started = time.perf_counter()
    expected = linear.route_all(lats, lons).tolist()
    disagreements += sum(a != b for a, b in zip(tree_codes, expected, strict=True))
    print(
        f"agreement with linear   {disagreements} disagreements over {points:,} points"
        f" (brute force of all points in {time.perf_counter() - started:.1f} s)"
    )
    return disagreements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="random points per case")
    parser.add_argument(
        "--linear-points", type=int, default=2_000, help="points timed on the linear scan"
    )
    parser.add_argument("--city-grids", type=int, default=10_000, help="grids in the big city")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random points")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = f"pinned to CPU {min(os.sched_getaffinity(0))}"
    else:
        pinned = "not pinned (no sched_setaffinity here)"
    print(
        f"Python {platform.python_version()}, shapely {shapely.__version__}"
        f" (GEOS {shapely.geos_version_string}), numpy {np.__version__},"
        f" rapidfuzz {rapidfuzz.__version__}; {platform.machine()}, {pinned}"
    )

    started = time.perf_counter()
    district = generate_district()
    print(f"generated the sample district in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    city = generate_city(args.city_grids)
    print(f"generated a {args.city_grids:,}-grid city in {time.perf_counter() - started:.1f} s")

    disagreements = bench_case(
        "sample district", district, args.points, args.linear_points, args.seed
    )
    disagreements += bench_case(
        f"{args.city_grids:,}-grid city", city, args.points, args.linear_points, args.seed
    )
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
