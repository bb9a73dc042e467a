"""Small hand-made district files for tests: a few squares near Dongxiang."""

import json

LON0, LAT0 = 116.60, 28.23
STEP = 0.01  # about 980 m east-west, 1,110 m north-south


def square(col: int, row: int, size: float = STEP) -> list[list[float]]:
    """The closed ring of the square at column ``col``, row ``row`` of a regular lattice."""
    x, y = round(LON0 + col * STEP, 6), round(LAT0 + row * STEP, 6)
    x2, y2 = round(x + size, 6), round(y + size, 6)
    return [[x, y], [x2, y], [x2, y2], [x, y2], [x, y]]


def polygon(*rings: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(code, geometry, *, name=None, community="大富社区", households=400, compounds=None):
    properties = {"code": code, "name": name or f"网格{code}", "community": community}
    if households is not None:
        properties["households"] = households
    if compounds is not None:
        properties["compounds"] = compounds
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def dumps(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def small_district() -> dict:
    """Three grids in a row, in two communities.

    A is column 0 with a 200 m hole in its middle; B is column 1 (A and B share the edge at
    longitude 116.61); C is a MultiPolygon: column 2 (sharing longitude 116.62 with B) and,
    across an empty column 3, column 4.
    """
    hole = [
        [116.6040, 28.2340],
        [116.6060, 28.2340],
        [116.6060, 28.2360],
        [116.6040, 28.2360],
        [116.6040, 28.2340],
    ]
    return collection(
        feature("A", polygon(square(0, 0), hole), compounds=["湖滨花园|湖滨小区|Lakeside Garden"]),
        feature("B", polygon(square(1, 0)), compounds=["东铜新村"]),
        feature(
            "C",
            {"type": "MultiPolygon", "coordinates": [[square(2, 0)], [square(4, 0)]]},
            community="东铜社区",
            households=None,
        ),
    )
