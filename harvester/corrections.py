"""Where moved documents stand: ``position`` and ``listing_url`` corrected in a finished file.

When results move during a walk (new uploads at the top), rows read before the move were
exported with their old place; the walk reads those pages again and keeps where each row
stands now (:class:`harvester.walk.Walk`). One streaming pass over the file, only when
something moved.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

#: Feed formats whose files can be corrected; others keep the places read before the move.
CORRECTABLE = ("jsonlines", "jsonl", "jl", "csv", "parquet")


def apply_corrections(path: Path, fmt: str, corrections: dict[str, tuple[int, str]]) -> int:
    """Set ``position`` and ``listing_url`` of moved documents in a finished feed file.

    Returns how many records were corrected; formats other than JSON Lines, CSV and Parquet
    are left as they are.
    """
    if fmt not in CORRECTABLE:
        return 0
    if fmt == "parquet":
        from harvester.parquet import correct_parquet  # pyarrow only when Parquet is written

        return correct_parquet(path, corrections)
    fixed = 0
    out = path.with_name(path.name + ".fix")
    with (
        path.open("r", encoding="utf-8", newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        if fmt == "csv":
            reader = csv.reader(src)
            writer = csv.writer(dst)
            header = next(reader, None)
            if header is None:
                return 0
            writer.writerow(header)
            at = {name: header.index(name) for name in ("url", "position", "listing_url") if name in header}
            for row in reader:
                moved = corrections.get(row[at["url"]]) if "url" in at else None
                if moved is not None:
                    if "position" in at:
                        row[at["position"]] = str(moved[0])
                    if "listing_url" in at:
                        row[at["listing_url"]] = moved[1]
                    fixed += 1
                writer.writerow(row)
        else:
            for line in src:
                record = json.loads(line)
                moved = corrections.get(record.get("url"))
                if moved is not None:
                    if "position" in record:
                        record["position"] = moved[0]
                    if "listing_url" in record:
                        record["listing_url"] = moved[1]
                    fixed += 1
                    line = json.dumps(record, ensure_ascii=False) + "\n"
                dst.write(line)
    os.replace(out, path)
    return fixed
