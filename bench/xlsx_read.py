"""Measure reading a large .xlsx: calamine (fastexcel) and openpyxl read-only alone, and our reader.

    python bench/xlsx_read.py [--rows 100000] [--keep DIR]

The workbook is generated into a temporary folder (or DIR, never committed) with xlsxwriter: numeric
Contact and Account IDs and phones, text names, emails and zero-led postcodes, a date column, as a CRM
export opened and saved in Excel looks. Each reader runs once, in this process, in this order; the figure
is wall-clock seconds. openpyxl is measured at its cheapest (``values_only``, no number formats), so the
gap is a lower bound.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fastexcel
import openpyxl
import xlsxwriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.prepare.read import read_table

HEADER = [
    "Contact ID",
    "Account ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Work Email",
    "Contact Work Phone",
    "Account Name",
    "Account Postal Code",
    "Contact Title",
    "custom:customer_since_date",
]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    sheet = book.add_worksheet("Contacts")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    rnd = random.Random(seed)
    start = dt.datetime(2015, 1, 1)
    for i in range(1, rows + 1):
        sheet.write_number(i, 0, 100_000_000_000 + i)
        sheet.write_number(i, 1, 5_000_000 + i // 5)
        sheet.write_string(i, 2, f"First{i}")
        sheet.write_string(i, 3, f"Last{i}")
        sheet.write_string(i, 4, f"person{i}@example.com")
        sheet.write_number(i, 5, 14_155_000_000 + rnd.randrange(10_000_000))
        sheet.write_string(i, 6, f"Org {i // 5}")
        sheet.write_string(i, 7, f"{rnd.randrange(100_000):05d}")
        sheet.write_string(i, 8, "Buyer")
        sheet.write_datetime(i, 9, start + dt.timedelta(days=rnd.randrange(3000)), date)
    book.close()


def timed(label: str, read: Callable[[], int]) -> tuple[str, float, int]:
    started = time.perf_counter()
    rows = read()
    return label, time.perf_counter() - started, rows


def measure(path: Path) -> dict[str, dict[str, float | int]]:
    def calamine() -> int:
        return fastexcel.read_excel(str(path)).load_sheet(0, dtypes="string").to_polars().height

    def openpyxl_read_only() -> int:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
        book.close()
        return count

    def ours() -> int:
        return read_table(path).frame.height

    readers = [("calamine", calamine), ("openpyxl", openpyxl_read_only), ("read_table", ours)]
    results = [timed(label, read) for label, read in readers]
    return {label: {"seconds": round(seconds, 2), "rows": rows} for label, seconds, rows in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the workbook here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlsx-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"contacts-{args.rows}.xlsx"
        started = time.perf_counter()
        generate(path, args.rows)
        written = time.perf_counter() - started
        figures = measure(path)
        size_mb = path.stat().st_size / 1e6
    summary = {"rows": args.rows, "file_mb": round(size_mb, 1), "write_s": round(written, 1)}
    print(json.dumps({**summary, **figures}))


if __name__ == "__main__":
    main()
