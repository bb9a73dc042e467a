"""Write the synthetic sample district to data/dongxiang.geojson.

Usage: .venv/bin/python data/generate_sample_district.py [--seed N] [--out PATH]
The output is byte-for-byte reproducible for a given seed; tests compare the committed file
against a fresh generation.
"""

import argparse
from pathlib import Path

from redgrid.paths import SAMPLE_DISTRICT
from redgrid.services.synthetic_district import dump_feature_collection, generate_district


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261126, help="random seed")
    parser.add_argument("--out", type=Path, default=SAMPLE_DISTRICT, help="output GeoJSON file")
    args = parser.parse_args()

    collection = generate_district(args.seed)
    text = dump_feature_collection(collection)
    args.out.write_text(text, encoding="utf-8", newline="\n")

    props = [f["properties"] for f in collection["features"]]
    communities = len({p["community"] for p in props})
    compounds = sum(len(p["compounds"]) for p in props)
    with_compounds = sum(1 for p in props if p["compounds"])
    print(
        f"wrote {args.out}: {len(props)} grids, {communities} communities, "
        f"{compounds} compounds in {with_compounds} grids, {len(text.encode())} bytes"
    )


if __name__ == "__main__":
    main()
