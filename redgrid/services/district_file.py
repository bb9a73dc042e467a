"""Reading and checking a district GeoJSON file, before anything touches the database.

A district file is a FeatureCollection in WGS84; each feature is one grid (Polygon or
MultiPolygon, holes allowed) with properties ``code``, ``name``, ``community``, optional
``households`` and optional ``compounds`` ("name|alias|alias"). The whole file is checked
first and every fault is reported at once, so an admin fixes a file in one pass and a bad
file never half-imports.
"""

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from redgrid.services.geo import metres_per_degree

MAX_CODE_LENGTH = 32
MAX_NAME_LENGTH = 64
MAX_PROBLEMS_LISTED = 50
# Real boundaries drawn by hand overlap by slivers; only overlaps above this share of the
# smaller grid are worth a warning.
OVERLAP_WARNING_SHARE = 0.001
_WGS84_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "CRS84",
}


class DistrictFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every fault found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_LISTED]
        more = len(problems) - len(shown)
        lines = [*shown, *([f"... and {more} more"] if more else [])]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class PlannedCompound:
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlannedGrid:
    code: str
    name: str
    community: str
    households: int | None
    geometry: BaseGeometry
    compounds: tuple[PlannedCompound, ...]

    @property
    def boundary_geojson(self) -> str:
        return shapely.to_geojson(self.geometry)


@dataclass(frozen=True, slots=True)
class DistrictPlan:
    """A checked district file: what an import will write."""

    grids: tuple[PlannedGrid, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def communities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(grid.community for grid in self.grids))


def parse_district_file(raw: bytes | str) -> DistrictPlan:
    """Check a district file and return the plan, or raise DistrictFileError with every fault."""
    document = _load_json(raw)
    features = _features(document)
    problems: list[str] = []
    grids: list[PlannedGrid] = []
    first_index_of_code: dict[str, int] = {}
    for index, feature in enumerate(features, start=1):
        feature_problems: list[str] = []
        grid = _parse_feature(feature, feature_problems)
        label = _feature_label(index, feature)
        problems.extend(f"{label}: {problem}" for problem in feature_problems)
        if grid is None:
            continue
        if grid.code in first_index_of_code:
            problems.append(
                f"{label}: duplicate code {grid.code!r}"
                f" (already used by feature #{first_index_of_code[grid.code]})"
            )
            continue
        first_index_of_code[grid.code] = index
        grids.append(grid)
    if problems:
        raise DistrictFileError(problems)
    return DistrictPlan(grids=tuple(grids), warnings=tuple(_overlap_warnings(grids)))


# Lists above a position: a Polygon's rings, a MultiPolygon's polygons of rings.
RING_LEVELS = {"Polygon": 2, "MultiPolygon": 3}


def _load_json(raw: bytes | str) -> object:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DistrictFileError([f"file is not UTF-8 text: {error}"]) from None
    try:
        # NaN and Infinity are not JSON, but Python's parser accepts them unless told not to.
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise DistrictFileError(
            [f"file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"]
        ) from None
    except ValueError as error:
        raise DistrictFileError([f"file is not valid JSON: {error}"]) from None
    except RecursionError:
        raise DistrictFileError(["file is not a district: its JSON is nested too deeply"]) from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _features(document: object) -> list[object]:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise DistrictFileError(["file is not a GeoJSON FeatureCollection"])
    crs_problem = _crs_problem(document.get("crs"))
    if crs_problem:
        raise DistrictFileError([crs_problem])
    features = document.get("features")
    if not isinstance(features, list):
        raise DistrictFileError(['the FeatureCollection has no "features" list'])
    if not features:
        raise DistrictFileError(["the FeatureCollection has no features: a district needs grids"])
    return features


def _crs_problem(crs: object) -> str | None:
    """GeoJSON (RFC 7946) is WGS84; an old-style ``crs`` member naming anything else is refused."""
    if crs is None:
        return None
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if isinstance(name, str) and name in _WGS84_NAMES:
        return None
    return f"coordinates must be WGS84 longitude/latitude; the file declares crs {name or crs!r}"


def _feature_label(index: int, feature: object) -> str:
    code = None
    if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
        code = feature["properties"].get("code")
    if isinstance(code, str | int) and not isinstance(code, bool) and str(code).strip():
        return f"feature #{index} (code {str(code).strip()!r})"
    return f"feature #{index}"


def _parse_feature(feature: object, problems: list[str]) -> PlannedGrid | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append("is not a GeoJSON Feature")
        return None
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        problems.append('has no "properties" object')
        return None
    code = _code(properties.get("code"), problems)
    name = _text(properties.get("name"), "name", problems)
    community = _text(properties.get("community"), "community", problems)
    households = _households(properties.get("households"), problems)
    compounds = _compounds(properties.get("compounds"), problems)
    geometry = _geometry(feature.get("geometry"), problems)
    if problems:
        return None
    return PlannedGrid(code, name, community, households, geometry, compounds)


def _code(value: object, problems: list[str]) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problems.append('has no "code" (a non-empty string)')
        return ""
    code = value.strip()
    if len(code) > MAX_CODE_LENGTH:
        problems.append(f"code is longer than {MAX_CODE_LENGTH} characters")
    return code


def _text(value: object, key: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(f'has no "{key}" (a non-empty string)')
        return ""
    text = value.strip()
    if len(text) > MAX_NAME_LENGTH:
        problems.append(f"{key} is longer than {MAX_NAME_LENGTH} characters")
    return text


def _households(value: object, problems: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(f"households must be a positive whole number, not {value!r}")
        return None
    return value


def _compounds(value: object, problems: list[str]) -> tuple[PlannedCompound, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append('"compounds" must be a list of strings such as "湖滨花园|Lakeside Garden"')
        return ()
    compounds: dict[str, PlannedCompound] = {}
    for position, entry in enumerate(value, start=1):
        names = [part.strip() for part in entry.split("|")] if isinstance(entry, str) else [""]
        if not names[0]:
            problems.append(f'compound #{position} has no name (expected "name|alias|...")')
            continue
        names = [part for part in names if part]
        too_long = [part for part in names if len(part) > MAX_NAME_LENGTH]
        if too_long:
            problems.append(f"compound name {too_long[0]!r} is longer than {MAX_NAME_LENGTH}")
            continue
        name, aliases = names[0], tuple(dict.fromkeys(a for a in names[1:] if a != names[0]))
        if name in compounds:
            problems.append(f"compound {name!r} is listed twice")
            continue
        compounds[name] = PlannedCompound(name, aliases)
    return tuple(compounds.values())


def _geometry(value: object, problems: list[str]) -> BaseGeometry:
    if not isinstance(value, dict):
        problems.append("has no geometry")
        return Polygon()
    kind = value.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        problems.append(f"geometry must be a Polygon or MultiPolygon, not {kind!r}")
        return Polygon()
    coordinate_problem = _coordinate_problem(value.get("coordinates"), RING_LEVELS[kind])
    if coordinate_problem:
        problems.append(coordinate_problem)
        return Polygon()
    try:
        geometry = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError) as error:
        problems.append(f"geometry cannot be read: {error}")
        return Polygon()
    if geometry.is_empty:
        problems.append("geometry is empty")
    elif not isinstance(geometry, Polygon | MultiPolygon):
        problems.append(f"geometry must be a Polygon or MultiPolygon, not {geometry.geom_type}")
    elif not geometry.is_valid:
        problems.append(f"geometry is invalid: {shapely.is_valid_reason(geometry)}")
    elif geometry.area == 0:
        problems.append("geometry has no area")
    return geometry


def _coordinate_problem(coordinates: object, levels: int) -> str | None:
    if not isinstance(coordinates, list) or not coordinates:
        return "geometry has no coordinates"
    for position in _positions(coordinates, levels):
        if position is None:
            return "geometry coordinates are not nested lists of [longitude, latitude] numbers"
        lon, lat = position[0], position[1]
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return f"coordinate {position!r} is not a finite number"
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            return (
                f"coordinate [{lon}, {lat}] is out of range: longitude must be within"
                " [-180, 180] and latitude within [-90, 90] (are longitude and latitude swapped?)"
            )
    return None


def _positions(node: object, levels: int) -> Iterator[list[float] | None]:
    """Yield each [lon, lat(, alt)] position under ``levels`` of nested lists; None if
    malformed (any other depth too: a file nested a thousand deep must not recurse)."""
    if not isinstance(node, list) or not node:
        yield None
        return
    if levels == 0:
        numbers = all(isinstance(item, int | float) and not isinstance(item, bool) for item in node)
        yield node if numbers and len(node) in (2, 3) else None
        return
    for item in node:
        yield from _positions(item, levels - 1)


def _overlap_warnings(grids: list[PlannedGrid]) -> Iterator[str]:
    """Name pairs of grids that overlap by more than a sliver; the import goes on regardless."""
    geometries = [grid.geometry for grid in grids]
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    mid_latitude = sum(g.centroid.y for g in geometries) / len(geometries)
    square_metres = math.prod(metres_per_degree(mid_latitude))
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = geometries[i].intersection(geometries[j]).area
        smaller = min(geometries[i].area, geometries[j].area)
        if shared > OVERLAP_WARNING_SHARE * smaller:
            yield (
                f"grids {grids[i].code!r} and {grids[j].code!r} overlap by about"
                f" {shared * square_metres:,.0f} m²; a spot there goes to the smaller code"
            )
