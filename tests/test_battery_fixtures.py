"""The battery's fixtures (tests/battery.py) really carry their damage, and only that damage.

Each case is built into its own tmp_path from one small generated campaign; the checks compare the
damaged file with the filled baseline (the same seeded entries) and with the generated workbook,
whose bytes must still match the manifest afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from battery import (
    AMOUNT_CELL,
    BATTERY_UNITS,
    CASES,
    COPIED_SHEET,
    COUNT_CELL,
    COUNT_REASON,
    DONE,
    EXTRA_SHEET,
    HALF_CELL,
    HALF_REASON,
    ISSUE_CODES,
    MAX_CELL,
    META_CELL,
    OTHER_HALF_CELL,
    RATE_CELL,
    RENAMED,
    RULE_TEXT_CELL,
    S1,
    S2,
    SCORE_CELL,
    SUMMARY_TOTAL_CELL,
    TITLE_CELL,
    TOTAL_CELL,
    UNIT_SHEETS,
    ZIP_BOMB_BYTES,
    BatteryCase,
    battery_campaign,
    campaign_rubric,
    case_sheet,
    compound_streams,
    filled_copy,
    filled_entries,
    missing_reasons,
    sheet_part,
    workbook_layout,
    zip_parts,
)
from libreoffice import require_soffice
from xlsxwriter.utility import xl_cell_to_rowcol

from kaohe_xlsx.layout import META_SHEET, SUMMARY_SHEET
from kaohe_xlsx.model import NO, YES
from kaohe_xlsx.scoring import engine_inputs if False else None  # noqa: F401  (placeholder, replaced below)
