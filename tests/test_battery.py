"""Every case of shared/BATTERY.md, made by damaging a generated workbook, through check and reconcile.

A: accepted, no warning or error (informational notes allowed); W: accepted with a warning
of the expected code naming the sheet and cell; R: an error of the expected code (the file
rejected, or the named unit or cell refused), naming the sheet and cell.
"""

from __future__ import annotations

import pytest
from battery import CASES, BatteryCase, battery_campaign, case_sheet
from libreoffice import require_soffice

from kaohe_xlsx.ingest import load_manifest
from kaohe_xlsx.reconcile import check_campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    issued = tmp_path_factory.mktemp("issued")
    manifest = battery_campaign(issued)
    return issued, manifest.data, load_manifest(manifest.path)


def _id(case: BatteryCase) -> str:
    return f"{case.number:02d}-{case.name}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_battery_case(case, campaign, tmp_path):
    if case.libreoffice:
        require_soffice()
    issued, manifest_data, manifest = campaign
    paths = case.build(issued, tmp_path, manifest_data)
    before = {path: path.read_bytes() for path in paths}
    result = check_campaign(paths, manifest)
    assert {path: path.read_bytes() for path in paths} == before, "a returned file was modified"
    issues = result.all_issues
    lines = "\n".join(issue.line() for issue in issues)
    sheet = case_sheet(case, manifest_data)
    if case.expect == "A":
        assert not [
            i for i in issues if i.level in ("error", "warning") and i.code != "group-leniency" and not _coverage(i)
        ], lines
        assert all(f.status == "accepted" for f in result.files), lines
    for code in case.codes:
        level = {"A": ("info",), "W": ("warning",), "R": ("error",)}[case.expect]
        found = [i for i in issues if i.code == code and i.level in level]
        assert found, f"expected a {level[0]} {code}:\n{lines}"
        if sheet is not None:
            assert any(i.sheet == sheet for i in found), f"{code} should name sheet {sheet}:\n{lines}"
        if case.cell is not None:
            assert any(i.cell == case.cell for i in found), f"{code} should name cell {case.cell}:\n{lines}"
    if case.expect == "W":
        assert not [i for i in issues if i.level == "error" and not _coverage(i)], lines
        assert all(f.status == "accepted" for f in result.files), lines


def _coverage(issue) -> bool:
    """Findings about the campaign as a whole: the battery returns one group's workbook only."""
    return issue.code in ("workbook-missing", "unit-missing")
