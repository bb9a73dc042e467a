"""Which grid owns this spot: a point, or an address typed by a resident.

Pure domain logic over shapely and rapidfuzz. The database loader builds a ``DistrictIndex``
from rows; handlers ask it questions. Every answer is deterministic: when two grids could
claim a spot, the one with the smallest code wins, whatever order the grids came in.
"""

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from numbers import Real

import numpy as np
import shapely
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from shapely import MultiPolygon, Point, Polygon

from redgrid.services.geo import metres_per_degree

# Typos in Chinese are mostly a wrong character of the same sound (湖宾 for 湖滨), so the
# fuzzy score is Levenshtein similarity, where a substitution is one edit: one wrong
# character in a four-character name scores exactly 75, two score 50. (fuzz.ratio counts a
# substitution as two edits, and so also scores a shifted name such as 南湖花园 at 75.)
FUZZY_SCORE_CUTOFF = 75.0
# Fuzzy candidates this close to the best score are equally plausible and all returned.
FUZZY_SCORE_MARGIN = 5.0
# A one-character alias is contained in far too many addresses to mean anything.
MIN_CONTAINED_LENGTH = 2


class InvalidCoordinates(ValueError):  # noqa: N818 - the name is the public interface
    """A latitude or longitude that is not a finite number in its range."""


@dataclass(frozen=True, slots=True)
class GridShape:
    """One grid as the index is built from it; ``geometry`` is in WGS84 lon/lat."""

    grid_id: int
    code: str
    name: str
    community: str
    geometry: Polygon | MultiPolygon


@dataclass(frozen=True, slots=True)
class CompoundEntry:
    """One compound (小区) of a grid, with the other names residents type for it."""

    name: str
    aliases: tuple[str, ...]
    grid_id: int


@dataclass(frozen=True, slots=True)
class GridRef:
    grid_id: int
    code: str
    name: str
    community: str


class RouteOutcome(StrEnum):
    INSIDE = "inside"
    NEARBY = "nearby"
    OUTSIDE = "outside"


@dataclass(frozen=True, slots=True)
class PointRoute:
    """Where a point falls.

    ``distance_m`` is 0 INSIDE, to ``grid`` when NEARBY, to the nearest grid when OUTSIDE
    (infinite for an empty index). It is measured in the district's local projection:
    accurate near the district, only indicative for a point in another province.
    """

    outcome: RouteOutcome
    grid: GridRef | None
    distance_m: float


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALISED = "normalised"
    FUZZY = "fuzzy"


@dataclass(frozen=True, slots=True)
class AddressCandidate:
    grid: GridRef
    compound: str
    matched: str
    kind: MatchKind
    score: float


@dataclass(frozen=True, slots=True)
class AddressRoute:
    """Every compound an address could mean, best first; the caller decides when to ask."""

    candidates: tuple[AddressCandidate, ...]

    @property
    def grid(self) -> GridRef | None:
        """The grid when the candidates agree on one, else None (no match, or ambiguous)."""
        grids = {candidate.grid for candidate in self.candidates}
        return grids.pop() if len(grids) == 1 else None


# A trailing building / unit / room / floor designation: 3栋2单元301室, 5号楼, B座, #3-201,
# Building 3. It is applied to NFKC-casefolded text, so full-width forms are already ASCII.
_SEPARATOR = r"(?:[^\w#]|_)*+"  # possessive: separators are never given back, no backtracking
_CHINESE_NUMBER = r"[零〇一二三四五六七八九十百两]++"
_LABEL = rf"(?:(?<![a-z])[a-z][0-9]*+|[0-9]++[a-z]?|{_CHINESE_NUMBER})"
_UNIT_TOKEN = (
    rf"第?{_LABEL}{_SEPARATOR}(?:号楼|栋|幢|座|单元|室|层|楼|号)"
    rf"|(?<![a-z])(?:building|bldg|block|blk|unit|room|rm|flat|apt|floor){_SEPARATOR}{_LABEL}"
    rf"|#{_SEPARATOR}[0-9]++(?:-[0-9]++)*+"
    r"|[0-9]++(?:-[0-9]++)++"
)
_UNIT_SUFFIX = re.compile(rf"(?:{_SEPARATOR}(?>{_UNIT_TOKEN}))++{_SEPARATOR}\Z")
# Searching from every position of a long text is quadratic; a real suffix is far shorter.
_UNIT_SUFFIX_WINDOW = 40


def _casefold(text: str) -> str:
    """NFKC turns full-width letters, digits and punctuation into their ASCII forms."""
    return unicodedata.normalize("NFKC", text).casefold()


def _letters_and_digits(text: str) -> str:
    """Drop whitespace, punctuation and symbols; keep letters (CJK too), digits and marks."""
    return "".join(char for char in text if unicodedata.category(char)[0] in "LNM")


def _fold(text: str) -> str:
    return _letters_and_digits(_casefold(text))


def normalise_address(text: str) -> str:
    """The comparable core of an address: folded, without a trailing building/unit/room part.

    "湖滨花园 ３栋2单元" and "湖滨花园" both become "湖滨花园". The suffix is kept when
    nothing would be left without it, so "3栋" alone stays "3栋".
    """
    folded = _casefold(text)
    suffix = _UNIT_SUFFIX.search(folded, max(0, len(folded) - _UNIT_SUFFIX_WINDOW))
    if suffix is not None and _letters_and_digits(folded[: suffix.start()]):
        folded = folded[: suffix.start()]
    return _letters_and_digits(folded)


@dataclass(frozen=True, slots=True)
class _Spelling:
    """One name or alias of a compound, as typed and as folded for comparison."""

    grid: GridRef
    compound: str
    text: str
    folded: str


class DistrictIndex:
    """Routes points and addresses to grids; immutable once built, cheap to query.

    Polygons are split into parts (tight STRtree envelopes) and projected to a local
    equirectangular plane in metres around the district centre: scaling each axis keeps
    every point on the same side of every edge, and distances come out in metres, good to
    well under 1% across a city. Parts are stored in grid-code order, so the smallest part
    index among several hits belongs to the smallest code.
    """

    def __init__(
        self,
        grids: Sequence[GridShape],
        compounds: Sequence[CompoundEntry] = (),
        *,
        buffer_m: float = 300.0,
    ) -> None:
        if not math.isfinite(buffer_m) or buffer_m < 0:
            raise ValueError(f"buffer_m must be a finite number >= 0, not {buffer_m!r}")
        _check_grids(grids)
        ordered = sorted(grids, key=lambda grid: grid.code)
        self._buffer_m = float(buffer_m)
        self._grids = tuple(GridRef(g.grid_id, g.code, g.name, g.community) for g in ordered)
        self._spellings = _spellings(self._grids, compounds)
        self._spellings_by_text: dict[str, list[_Spelling]] = {}
        for spelling in self._spellings:
            self._spellings_by_text.setdefault(spelling.text, []).append(spelling)
        self._folded = [spelling.folded for spelling in self._spellings]
        self._build_tree([grid.geometry for grid in ordered])

    def _build_tree(self, geometries: list[Polygon | MultiPolygon]) -> None:
        if not geometries:
            self._tree = None
            return
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(geometries)
        self._lon0, self._lat0 = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
        self._x_scale, self._y_scale = metres_per_degree(self._lat0)
        origin = np.array([self._lon0, self._lat0])
        scale = np.array([self._x_scale, self._y_scale])
        projected = shapely.transform(geometries, lambda lonlat: (lonlat - origin) * scale)
        self._parts, grid_of_part = shapely.get_parts(projected, return_index=True)
        shapely.prepare(self._parts)
        self._grid_of_part = [self._grids[position] for position in grid_of_part.tolist()]
        self._tree = shapely.STRtree(self._parts)

    @property
    def grids(self) -> tuple[GridRef, ...]:
        """Every grid, in code order."""
        return self._grids

    def __len__(self) -> int:
        return len(self._grids)

    def route(self, lat: float, lon: float) -> PointRoute:
        """The grid whose closed polygon holds the point, else the nearest within the buffer.

        A point on a shared edge or vertex goes to the smallest code, as does a tie for the
        nearest grid. A point in a hole is outside that grid: NEARBY to it only when the
        hole's edge is within the buffer. Raises InvalidCoordinates for a bad lat or lon.
        """
        lat = _coordinate("latitude", lat, 90.0)
        lon = _coordinate("longitude", lon, 180.0)
        if self._tree is None:
            return PointRoute(RouteOutcome.OUTSIDE, None, math.inf)
        x = (lon - self._lon0) * self._x_scale
        y = (lat - self._lat0) * self._y_scale
        # STRtree queries take a geometry. A fresh Point is about a quarter of the lookup's
        # cost and keeps the index safe to share; reusing one mutable probe would not be.
        point = Point(x, y)
        candidates = self._tree.query(point)
        if candidates.size:
            hits = candidates[shapely.intersects_xy(self._parts[candidates], x, y)].tolist()
            if hits:
                return PointRoute(RouteOutcome.INSIDE, self._grid_of_part[min(hits)], 0.0)
        nearest, distances = self._tree.query_nearest(point, return_distance=True, all_matches=True)
        grid, distance = self._grid_of_part[nearest.min()], float(distances[0])
        if distance <= self._buffer_m:
            return PointRoute(RouteOutcome.NEARBY, grid, distance)
        return PointRoute(RouteOutcome.OUTSIDE, None, distance)

    def route_address(self, text: str) -> AddressRoute:
        """Compounds the text names: exact, else normalised, else fuzzy; the first stage to
        find anything wins. Several compounds are all returned, never silently narrowed.

        Names are looked for inside the folded text before its unit suffix is stripped, so a
        name that itself ends like a unit (滨江一号) is still found in "滨江一号3栋".
        """
        exact = self._spellings_by_text.get(text.strip(), [])
        if exact:
            return _address_route((s, MatchKind.EXACT, 100.0) for s in exact)
        plain, core = _fold(text), normalise_address(text)
        if not core:
            return AddressRoute(())
        contained = [
            s
            for s in self._spellings
            if s.folded in (plain, core)
            or (len(s.folded) >= MIN_CONTAINED_LENGTH and s.folded in plain)
        ]
        if contained:
            # The longest name found is the most specific: 湖滨花园东区 beats 湖滨花园.
            longest = max(len(s.folded) for s in contained)
            return _address_route(
                (s, MatchKind.NORMALISED, 100.0) for s in contained if len(s.folded) == longest
            )
        matches = process.extract(
            core,
            self._folded,
            scorer=Levenshtein.normalized_similarity,
            score_cutoff=FUZZY_SCORE_CUTOFF / 100,
            limit=None,
        )
        if not matches:
            return AddressRoute(())
        best = max(similarity for _, similarity, _ in matches)
        return _address_route(
            (self._spellings[position], MatchKind.FUZZY, 100 * similarity)
            for _, similarity, position in matches
            if 100 * similarity >= 100 * best - FUZZY_SCORE_MARGIN
        )


def _check_grids(grids: Sequence[GridShape]) -> None:
    """Refuse what would make routing silently wrong: clashing keys and unusable shapes."""
    for key in ("grid_id", "code"):
        seen: set[object] = set()
        for grid in grids:
            value = getattr(grid, key)
            if value in seen:
                raise ValueError(f"two grids share {key} {value!r}")
            seen.add(value)
    for grid in grids:
        geometry = grid.geometry
        if not isinstance(geometry, Polygon | MultiPolygon) or geometry.is_empty:
            raise ValueError(f"grid {grid.code!r} needs a non-empty Polygon or MultiPolygon")
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            raise ValueError(f"grid {grid.code!r} has an invalid geometry: {reason}")
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
            raise ValueError(f"grid {grid.code!r} is not in lon/lat (are they swapped?)")


def _spellings(grids: tuple[GridRef, ...], compounds: Sequence[CompoundEntry]) -> list[_Spelling]:
    """Every name and alias, in grid-code then compound-name order, so ties come out stable."""
    grid_by_id = {grid.grid_id: grid for grid in grids}
    spellings = []
    for compound in compounds:
        grid = grid_by_id.get(compound.grid_id)
        if grid is None:
            raise ValueError(f"compound {compound.name!r} names unknown grid {compound.grid_id}")
        texts = dict.fromkeys(t.strip() for t in (compound.name, *compound.aliases))
        spellings.extend(_Spelling(grid, compound.name, t, _fold(t)) for t in texts)
    spellings.sort(key=lambda s: (s.grid.code, s.compound))
    return [s for s in spellings if s.folded]


def _address_route(
    matches: Iterable[tuple[_Spelling, MatchKind, float]],
) -> AddressRoute:
    """One candidate per compound, its best spelling; best score first, then code, then name."""
    best: dict[tuple[str, str], AddressCandidate] = {}
    for spelling, kind, score in matches:
        key = (spelling.grid.code, spelling.compound)
        if key not in best or score > best[key].score:
            best[key] = AddressCandidate(
                spelling.grid, spelling.compound, spelling.text, kind, score
            )
    ordered = sorted(best.values(), key=lambda c: (-c.score, c.grid.code, c.compound))
    return AddressRoute(tuple(ordered))


def _coordinate(label: str, value: object, limit: float) -> float:
    """``value`` as a float within [-limit, limit]; ints and numpy floats pass, bools do not."""
    if type(value) is not float:
        if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
            raise InvalidCoordinates(f"{label} must be a number, not {value!r}")
        value = float(value)
    if not math.isfinite(value):
        raise InvalidCoordinates(f"{label} is not a finite number")
    if not -limit <= value <= limit:
        raise InvalidCoordinates(f"{label} {value} is out of range [{-limit:g}, {limit:g}]")
    return value
