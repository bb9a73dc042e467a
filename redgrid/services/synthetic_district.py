"""Synthetic grid boundaries for Dongxiang District and for large benchmark cities.

Official grid boundaries are not public, so the project ships a plausible stand-in with the
same shape as real data: a GeoJSON FeatureCollection (WGS84, ``[lon, lat]``), one feature per
grid, properties ``code``, ``name``, ``community``, ``households`` and ``compounds``.

The layout is built in a local metric frame (so Voronoi cells are not stretched by the
longitude scale), converted to degrees, then snap-rounded as ONE coverage on a 1e-6 degree
grid: every boundary of every grid is noded together and the faces are reassembled per grid.
Neighbouring grids therefore share identical vertices, and writing coordinates with six
decimals changes nothing. Everything is driven by ``random.Random(seed)`` and GEOS, so the
same seed gives the same bytes.
"""

import json
import math
import random
from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping, shape

DONGXIANG_CENTER = (116.60, 28.23)
GRID_SIZE = 1e-6  # degrees; about 0.1 m, and exactly what six decimals can express
_M_PER_DEG = 111_195.0  # metres per degree of latitude on the mean-radius sphere

# The five communities named in the report come first; the other twelve are invented.
DISTRICT_COMMUNITIES: tuple[tuple[str, str], ...] = (
    ("大富社区", "DF"),
    ("东铜社区", "DTO"),
    ("东糖社区", "DTA"),
    ("凤凰社区", "FH"),
    ("师水社区", "SS"),
    ("孝岗社区", "XG"),
    ("城东社区", "CD"),
    ("城西社区", "CX"),
    ("龙山社区", "LS"),
    ("文昌社区", "WC"),
    ("红星社区", "HX"),
    ("新华社区", "XH"),
    ("金峰社区", "JF"),
    ("丰林社区", "FL"),
    ("滨河社区", "BH"),
    ("站前社区", "ZQ"),
    ("曙光社区", "SG"),
)
DISTRICT_GRIDS = 117
DISTRICT_COMPOUND_GRIDS = 64

# Compound name stems with their pinyin; each stem is used at most once in the district so
# that names and aliases never collide.
# fmt: off
_STEMS: tuple[tuple[str, str], ...] = (
    ("湖滨", "Hubin"), ("锦绣", "Jinxiu"), ("阳光", "Yangguang"), ("金色", "Jinse"),
    ("翰林", "Hanlin"), ("书香", "Shuxiang"), ("碧水", "Bishui"), ("东方", "Dongfang"),
    ("盛世", "Shengshi"), ("龙湖", "Longhu"), ("紫荆", "Zijing"), ("丹桂", "Dangui"),
    ("香樟", "Xiangzhang"), ("玉兰", "Yulan"), ("银杏", "Yinxing"), ("梧桐", "Wutong"),
    ("翠竹", "Cuizhu"), ("青松", "Qingsong"), ("明珠", "Mingzhu"), ("华府", "Huafu"),
    ("御景", "Yujing"), ("江南", "Jiangnan"), ("滨江", "Binjiang"), ("瑞祥", "Ruixiang"),
    ("福泰", "Futai"), ("和谐", "Hexie"), ("幸福", "Xingfu"), ("康乐", "Kangle"),
    ("安居", "Anju"), ("长春", "Changchun"), ("春晖", "Chunhui"), ("朝阳", "Chaoyang"),
    ("晨曦", "Chenxi"), ("星河", "Xinghe"), ("月湖", "Yuehu"), ("云锦", "Yunjin"),
    ("天润", "Tianrun"), ("鑫源", "Xinyuan"), ("嘉禾", "Jiahe"), ("丰泽", "Fengze"),
    ("泰和", "Taihe"), ("兴隆", "Xinglong"), ("宏泰", "Hongtai"), ("德馨", "Dexin"),
    ("雅居", "Yaju"), ("怡景", "Yijing"), ("馨怡", "Xinyi"), ("清风", "Qingfeng"),
    ("荷塘", "Hetang"), ("莲花", "Lianhua"), ("桃源", "Taoyuan"), ("杏林", "Xinglin"),
    ("枫林", "Fenglin"), ("松鹤", "Songhe"), ("鹤鸣", "Heming"), ("金桥", "Jinqiao"),
    ("银河", "Yinhe"), ("新城", "Xincheng"), ("博雅", "Boya"), ("文华", "Wenhua"),
    ("育才", "Yucai"), ("光明", "Guangming"), ("胜利", "Shengli"), ("建设", "Jianshe"),
    ("工农", "Gongnong"), ("铁路", "Tielu"), ("电力", "Dianli"), ("供销", "Gongxiao"),
    ("邮电", "Youdian"), ("农机", "Nongji"), ("水利", "Shuili"), ("化工", "Huagong"),
    ("教师", "Jiaoshi"), ("医药", "Yiyao"), ("金融", "Jinrong"), ("财政", "Caizheng"),
    ("交通", "Jiaotong"), ("城建", "Chengjian"), ("红旗", "Hongqi"), ("人民", "Renmin"),
    ("东山", "Dongshan"), ("南湖", "Nanhu"), ("鸿福", "Hongfu"), ("君悦", "Junyue"),
    ("名仕", "Mingshi"), ("世纪", "Shiji"), ("时代", "Shidai"), ("中央", "Zhongyang"),
    ("翡翠", "Feicui"), ("半岛", "Bandao"), ("蓝湾", "Lanwan"), ("海棠", "Haitang"),
    ("芙蓉", "Furong"), ("牡丹", "Mudan"), ("百合", "Baihe"), ("兰亭", "Lanting"),
    ("聚贤", "Juxian"), ("尚品", "Shangpin"), ("宜居", "Yiju"), ("锦华", "Jinhua"),
    ("万和", "Wanhe"), ("天和", "Tianhe"), ("华都", "Huadu"), ("金都", "Jindu"),
    ("富康", "Fukang"), ("吉祥", "Jixiang"), ("如意", "Ruyi"),
)
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("花园", "Garden"), ("小区", "Estate"), ("苑", "Court"),
    ("家园", "Homes"), ("公寓", "Apartments"), ("新村", "New Village"),
)
# fmt: on


# --- geometry helpers (metric frame) -------------------------------------------------------


def _outline(rng: random.Random, radius: float) -> Polygon:
    """An irregular, star-shaped town outline: a slightly squashed circle with smooth bumps."""
    harmonics = [
        (k, amp, rng.uniform(0, 2 * math.pi))
        for k, amp in ((2, 0.09), (3, 0.06), (5, 0.035), (7, 0.02))
    ]
    ring = []
    for i in range(96):
        t = 2 * math.pi * i / 96
        r = radius * (1 + sum(amp * math.sin(k * t + phase) for k, amp, phase in harmonics))
        ring.append((1.08 * r * math.cos(t), 0.93 * r * math.sin(t)))
    return Polygon(ring)


def _random_points(rng: random.Random, region, count: int) -> list[tuple[float, float]]:
    """Uniform points inside ``region`` by rejection sampling."""
    shapely.prepare(region)
    xmin, ymin, xmax, ymax = region.bounds
    points: list[tuple[float, float]] = []
    while len(points) < count:
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        if shapely.contains_xy(region, x, y):
            points.append((x, y))
    return points


def _relaxed_cells(rng: random.Random, region, count: int, iterations: int = 3) -> list:
    """Split ``region`` into ``count`` cells: Voronoi of random seeds, Lloyd-relaxed.

    Relaxation turns the slivers of a raw Voronoi diagram into the compact blocks a city
    grid looks like.
    """
    if count == 1:
        return [region]
    points = _random_points(rng, region, count)
    cells: list = []
    for step in range(iterations + 1):
        diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=region, ordered=True)
        cells = list(shapely.intersection(shapely.get_parts(diagram), region))
        if step == iterations:
            break
        centroids = [c.centroid if c.contains(c.centroid) else c.point_on_surface() for c in cells]
        points = [(p.x, p.y) for p in centroids]
    return cells


def _allocate(weights: Sequence[float], total: int, minimum: int, maximum: int) -> list[int]:
    """Share ``total`` integer units in proportion to ``weights`` (largest remainder),
    with every share between ``minimum`` and ``maximum``."""
    counts = [minimum] * len(weights)
    spare = total - minimum * len(weights)
    wsum = sum(weights)
    quotas = [spare * w / wsum for w in weights]
    for i, q in enumerate(quotas):
        counts[i] += min(int(q), maximum - minimum)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    while sum(counts) < total:
        for i in order:
            if sum(counts) < total and counts[i] < maximum:
                counts[i] += 1
    return counts


def _layout(
    rng: random.Random, outline, n_communities: int, n_grids: int, minimum: int, maximum: int
) -> list[tuple[int, object]]:
    """Communities as relaxed cells of the outline, each split into relaxed grid cells.

    Grids are denser towards the centre (older, denser blocks), so central communities get
    more, smaller grids.
    """
    communities = _relaxed_cells(rng, outline, n_communities, iterations=2)
    # Keep community numbering stable and readable: north-west first.
    communities.sort(key=lambda c: (-round(c.centroid.y, 3), round(c.centroid.x, 3)))
    radius = math.sqrt(outline.area / math.pi)
    weights = [
        c.area * max(0.3, 2.0 - 1.7 * c.centroid.distance(Point(0, 0)) / radius)
        for c in communities
    ]
    counts = _allocate(weights, n_grids, minimum, maximum)
    pieces: list[tuple[int, object]] = []
    for index, (region, count) in enumerate(zip(communities, counts, strict=True)):
        cells = _relaxed_cells(rng, region, count)
        cells.sort(key=lambda c: (-round(c.centroid.y, 3), round(c.centroid.x, 3)))
        pieces.extend((index, cell) for cell in cells)
    return pieces


def _blob(rng: random.Random, center: Point, radius: float, corners: int = 12) -> Polygon:
    """A small irregular round shape (a lake, a park) around ``center``."""
    ring = []
    for i in range(corners):
        t = 2 * math.pi * i / corners
        r = radius * rng.uniform(0.8, 1.0)
        ring.append((center.x + r * math.cos(t), center.y + r * math.sin(t)))
    return Polygon(ring)


def _carve_exclave(pieces: list[tuple[int, object]], outline) -> tuple[int, int, object]:
    """Cut a bite off a grid on the town edge and find a grid of another community to own it.

    Returns ``(owner index, donor index, bite)``. The bite is a half-disc on the outline that
    touches no grid but the donor, so the donor stays one polygon and the owner becomes a
    two-part MultiPolygon (an exclave, 飞地).
    """
    geoms = [g for _, g in pieces]
    tree = shapely.STRtree(geoms)
    for x, y in outline.exterior.coords[:-1]:
        bite = shapely.intersection(Point(x, y).buffer(220, quad_segs=6), outline)
        hits = [
            int(i)
            for i in tree.query(bite, predicate="intersects")
            if shapely.intersection(geoms[i], bite).area > 1e-6
        ]
        if len(hits) != 1 or bite.geom_type != "Polygon":
            continue
        donor = hits[0]
        rest = geoms[donor].difference(bite)
        if rest.geom_type != "Polygon" or rest.area < 0.6 * geoms[donor].area:
            continue
        candidates = [
            i
            for i, (community, g) in enumerate(pieces)
            if community != pieces[donor][0] and g.distance(bite) > 60
        ]
        owner = min(candidates, key=lambda i: (round(geoms[i].distance(bite), 3), i))
        return owner, donor, bite
    raise RuntimeError("no grid on the town edge can give up an exclave")


def _lake_for(
    rng: random.Random, pieces: list[tuple[int, object]], outline, excluded: set[int]
) -> tuple[int, object]:
    """Pick the roomiest inner grid and put a lake in it (a hole that belongs to no grid)."""
    best: tuple[float, int, object] | None = None
    for i, (_, g) in enumerate(pieces):
        if i in excluded or g.intersects(outline.exterior):
            continue
        spoke = shapely.maximum_inscribed_circle(g, 1.0)
        if best is None or spoke.length > best[0] + 1e-9:
            best = (spoke.length, i, Point(spoke.coords[0]))
    if best is None:
        raise RuntimeError("no inner grid for the lake")
    radius, index, center = best
    return index, _blob(rng, center, 0.45 * radius)


# --- one snapped coverage --------------------------------------------------------------------


def _to_degrees(geoms: Sequence, center: tuple[float, float]) -> list:
    """Equirectangular projection from the local metric frame around ``center``."""
    lon0, lat0 = center
    scale = (1 / (_M_PER_DEG * math.cos(math.radians(lat0))), 1 / _M_PER_DEG)
    return list(shapely.transform(list(geoms), lambda xy: xy * scale + (lon0, lat0)))


def _snap_coverage(pieces: Sequence) -> list:
    """Turn near-exact pieces into an exact coverage on the ``GRID_SIZE`` grid.

    All boundaries are snap-rounded and noded together, the resulting faces are given to the
    piece that covers most of them (faces covered by none, such as a lake, stay unassigned),
    and each piece is rebuilt from its faces.
    """
    pieces = list(pieces)
    noded = shapely.union_all(shapely.boundary(pieces), grid_size=GRID_SIZE)
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    face_idx, piece_idx = shapely.STRtree(pieces).query(faces, predicate="intersects")
    overlaps = shapely.area(
        shapely.intersection([faces[f] for f in face_idx], [pieces[p] for p in piece_idx])
    )
    best: dict[int, tuple[float, int]] = {}
    for f, p, a in zip(face_idx.tolist(), piece_idx.tolist(), overlaps.tolist(), strict=True):
        if a > best.get(f, (0.0, -1))[0]:
            best[f] = (a, p)
    members: list[list] = [[] for _ in pieces]
    for f, face in enumerate(faces):
        area, p = best.get(f, (0.0, -1))
        if p >= 0 and area > 0.5 * face.area:
            members[p].append(face)
    return [shapely.coverage_union_all(m) if m else Polygon() for m in members]


def check_coverage(geoms: Sequence, holes: int = 0) -> None:
    """Raise ``ValueError`` unless ``geoms`` is a valid gap-free coverage.

    Every geometry must be valid and non-empty, no two may overlap, shared edges must match
    vertex for vertex, and the union must be one polygon with exactly ``holes`` holes (the
    deliberate ones; any other hole would be a gap between grids).
    """
    geoms = list(geoms)
    if not all(shapely.is_valid(geoms)) or any(shapely.is_empty(geoms)):
        raise ValueError("invalid or empty grid geometry")
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if a < b]
    if pairs:
        areas = shapely.area(
            shapely.intersection([geoms[a] for a, _ in pairs], [geoms[b] for _, b in pairs])
        )
        worst = max(range(len(pairs)), key=lambda n: areas[n])
        if areas[worst] >= 1e-12:
            raise ValueError(f"grids {pairs[worst]} overlap")
    if not shapely.coverage_is_valid(geoms):
        raise ValueError("neighbouring grids do not share their edges exactly")
    union = shapely.coverage_union_all(geoms)
    if union.geom_type != "Polygon" or len(union.interiors) != holes:
        raise ValueError(f"union is a {union.geom_type} with unexpected gaps")


# --- properties ----------------------------------------------------------------------------


def _compound(rng: random.Random, stem: tuple[str, str], suffix: tuple[str, str]) -> str:
    """A compound name, sometimes with its colloquial ``…小区`` and pinyin aliases."""
    name = stem[0] + suffix[0]
    aliases = []
    if suffix[0] != "小区" and rng.random() < 0.5:
        aliases.append(stem[0] + "小区")
    if rng.random() < 0.35:
        aliases.append(f"{stem[1]} {suffix[1]}")
    return "|".join([name, *aliases])


def _feature(
    geom, code: str, name: str, community: str, households: int, compounds: list[str]
) -> dict:
    """One GeoJSON feature with coordinates written at six decimals."""
    geometry = mapping(shapely.orient_polygons(geom))  # RFC 7946: exterior rings CCW

    def rounded(value):
        if isinstance(value, float):
            return round(value, 6)
        return [rounded(v) for v in value]

    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": name,
            "community": community,
            "households": households,
            "compounds": compounds,
        },
        "geometry": {"type": geometry["type"], "coordinates": rounded(geometry["coordinates"])},
    }


def _collection(features: list[dict], holes: int) -> dict:
    """Wrap features and re-check the coverage as it will be read back from the file."""
    check_coverage([shape(f["geometry"]) for f in features], holes=holes)
    return {"type": "FeatureCollection", "features": features}


# --- public API ------------------------------------------------------------------------------


def generate_district(seed: int = 20261126) -> dict:
    """The sample Dongxiang District: 17 communities, 117 grids, one lake hole, one exclave."""
    rng = random.Random(seed)
    outline = _outline(rng, 2700.0)
    pieces = _layout(rng, outline, len(DISTRICT_COMMUNITIES), DISTRICT_GRIDS, 3, 12)
    owner, donor, bite = _carve_exclave(pieces, outline)
    lake_grid, lake = _lake_for(rng, pieces, outline, {owner, donor})
    geoms = [g for _, g in pieces]
    geoms[donor] = geoms[donor].difference(bite)
    geoms[owner] = geoms[owner].union(bite)
    geoms[lake_grid] = geoms[lake_grid].difference(lake)
    snapped = _snap_coverage(_to_degrees(geoms, DONGXIANG_CENTER))
    odd = [i for i, g in enumerate(snapped) if g.geom_type != "Polygon" or g.interiors]
    if odd != sorted({owner, lake_grid}):
        raise RuntimeError(f"seed {seed}: unexpected multipart or holed grids {odd}")

    stems = list(_STEMS)
    rng.shuffle(stems)
    with_compounds = set(rng.sample(range(DISTRICT_GRIDS), DISTRICT_COMPOUND_GRIDS))
    features = []
    numbers = [0] * len(DISTRICT_COMMUNITIES)
    for i, ((community, _), geom) in enumerate(zip(pieces, snapped, strict=True)):
        numbers[community] += 1
        cname, abbr = DISTRICT_COMMUNITIES[community]
        compounds = []
        if i in with_compounds:
            with_compounds.discard(i)
            # Two compounds in about a third of them, while stems last for the rest.
            two = rng.random() < 0.35 and len(stems) >= len(with_compounds) + 2
            for _ in range(2 if two else 1):
                compounds.append(_compound(rng, stems.pop(), rng.choice(_SUFFIXES)))
        features.append(
            _feature(
                geom,
                f"DX-{abbr}-{numbers[community]:02d}",
                f"{cname}第{numbers[community]}网格",
                cname,
                rng.randint(300, 500),
                compounds,
            )
        )
    return _collection(features, holes=1)


def generate_city(
    n_grids: int, seed: int = 1, center: tuple[float, float] = DONGXIANG_CENTER
) -> dict:
    """A large synthetic city for benchmarks: ``n_grids`` grids of about 0.2 km² each,
    in communities of 30–99 grids. Half the grids carry one compound (names unique, no
    aliases); there are no holes or exclaves."""
    if n_grids < 1:
        raise ValueError("n_grids must be positive")
    rng = random.Random(seed)
    n_communities = max(1, round(n_grids / 60))
    # Same grid density as the sample district (about 117 grids in 2700 m of radius).
    outline = _outline(rng, 2700.0 * math.sqrt(n_grids / DISTRICT_GRIDS))
    minimum = min(30, n_grids // n_communities)
    pieces = _layout(rng, outline, n_communities, n_grids, minimum, 99)
    snapped = _snap_coverage(_to_degrees([g for _, g in pieces], center))

    combos = [(s, x) for s in _STEMS for x in _SUFFIXES]
    rng.shuffle(combos)
    features = []
    numbers = [0] * n_communities
    for i, ((community, _), geom) in enumerate(zip(pieces, snapped, strict=True)):
        numbers[community] += 1
        cname = f"城区{community + 1:03d}社区"
        compounds = []
        if i % 2 == 0:
            stem, suffix = combos[(i // 2) % len(combos)]
            phase = (i // 2) // len(combos) + 1
            compounds.append(stem[0] + suffix[0] + (f"{phase}期" if phase > 1 else ""))
        features.append(
            _feature(
                geom,
                f"SC-C{community + 1:03d}-{numbers[community]:02d}",
                f"{cname}第{numbers[community]}网格",
                cname,
                rng.randint(300, 500),
                compounds,
            )
        )
    return _collection(features, holes=0)


def dump_feature_collection(collection: dict) -> str:
    """Serialise a FeatureCollection as UTF-8 friendly text, one feature per line.

    Compact separators keep the file small; one line per feature keeps diffs readable.
    """
    lines = [
        json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
