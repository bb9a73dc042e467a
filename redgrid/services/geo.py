"""Small geodesy for a city-sized area."""

import math


def metres_per_degree(latitude: float) -> tuple[float, float]:
    """Metres in one degree of longitude and of latitude near ``latitude`` (WGS84 ellipsoid).

    Across a district or a city the scale barely changes, so a projection that scales each
    axis by these two numbers measures distances to well under one percent.
    """
    phi = math.radians(latitude)
    per_lat = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    per_lon = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return per_lon, per_lat
