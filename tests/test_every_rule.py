"""Every rule in rubrics.json has a case scored by hand from the seed text.

The cases live in ``tests/rule_cases.csv`` (UTF-8, one header row)::

    rubric,item,inputs,score,bonus,seed

- ``inputs``: ``rule=value`` pairs separated by ``;``, values as an inspector enters them:
  whole numbers for counts, decimals for amounts and scores, 是/否 for flags, the level
  label for level bonuses, 不参加 for non-participants.
- ``score`` / ``bonus``: the item score and item bonus worked out by hand from the seed
  sentence (a 倒扣分 item scores negative).
- ``seed``: the seed words the case follows. Several fragments may be joined with ``…``;
  each fragment must occur in the seed (whitespace ignored).

One pseudo-input is not a rule: ``参加单位=80/90`` lists the source scores of the
participating units on a 折算 item whose non-participants "得参加部门单位考核得分的平均分".
A row with ``c1=不参加`` gives those scores so that the hand value (the participants'
average item score) can be checked; the average goes to ``score_item`` as ``average``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from kaohe_xlsx.model import NO, NOT_PARTICIPATING, YES, Converted, InputSpec, Item, Rubric
from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.scoring import participant_averages, score_item

HERE = Path(__file__).resolve().parent
CASES_FILE = HERE / "rule_cases.csv"
SEEDS = HERE / "seeds"
COLUMNS = ["rubric", "item", "inputs", "score", "bonus", "seed"]
PARTICIPANTS = "参加单位"
FRAGMENT_SEPARATOR = "…"
# Wenzhou's rubric text was converted from the Traditional seed to Simplified Chinese:
# its quotations are checked against the rubric's own item text, not the seed file.
CONVERTED_TEXT = {"wenzhou"}

RUBRICS: dict[str, Rubric] = load_rubrics()


@dataclass(frozen=True)
class Case:
    line: int
    rubric: str
    item: str
    inputs: tuple[tuple[str, str], ...]
    score: Decimal
    bonus: Decimal
    seed: str

    @property
    def id(self) -> str:
        return f"{self.rubric}-{self.item}-{';'.join(f'{k}={v}' for k, v in self.inputs)}"


def _decimal(text: str, where: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise AssertionError(f"{where}: {text!r} is not a number") from None


def read_cases() -> list[Case]:
    with CASES_FILE.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        assert header == COLUMNS, f"{CASES_FILE.name}: header should be {COLUMNS}, got {header}"
        cases = []
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"{CASES_FILE.name} line {line}"
            assert len(row) == len(COLUMNS), f"{where}: expected {len(COLUMNS)} columns, got {len(row)}"
            rubric, item, inputs, score, bonus, seed = (cell.strip() for cell in row)
            pairs = []
            for part in inputs.split(";"):
                key, sep, value = part.partition("=")
                assert sep and key.strip() and value.strip(), f"{where}: input {part!r} is not rule=value"
                pairs.append((key.strip(), value.strip()))
            keys = [key for key, _ in pairs]
            assert len(keys) == len(set(keys)), f"{where}: a rule is given twice in {inputs!r}"
            assert seed, f"{where}: no seed quotation"
            cases.append(Case(line, rubric, item, tuple(pairs), _decimal(score, where), _decimal(bonus, where), seed))
    return cases


CASES = read_cases()


def convert(spec: InputSpec, text: str, where: str):
    """An inspector's entry as the scoring engine takes it, checked against the cell's InputSpec."""
    if spec.kind == "flag":
        assert text in (YES, NO), f"{where}: a flag takes {YES}/{NO}, got {text!r}"
        return text == YES
    if spec.kind == "choice":
        assert text in spec.choices, f"{where}: {text!r} is not one of {spec.choices}"
        return text
    if text == NOT_PARTICIPATING:
        assert spec.allow_not_participating, f"{where}: this cell does not accept {NOT_PARTICIPATING}"
        return NOT_PARTICIPATING
    if spec.kind == "count":
        assert text.isdigit(), f"{where}: a count takes a whole number, got {text!r}"
        count = int(text)
        assert spec.minimum <= count <= spec.maximum, f"{where}: {count} outside {spec.describe()}"
        return count
    number = _decimal(text, where)
    assert spec.minimum <= number <= spec.maximum, f"{where}: {number} outside {spec.describe()}"
    assert number % spec.step == 0, f"{where}: {number} is not on the step of {spec.describe()}"
    assert number == 0 or number >= spec.nonzero_minimum, f"{where}: {number} below {spec.describe()}"
    return number


def participants_average(rubric: Rubric, item: Item, text: str, where: str) -> Decimal | None:
    """The participants' average item score from their source scores, via the engine's own averaging."""
    rule = next((r for r in item.rules if isinstance(r, Converted) and r.average_for_non_participants), None)
    assert rule is not None, f"{where}: {PARTICIPANTS} only applies to a 折算 item that averages for non-participants"
    spec = rule.input_spec(item.max_points)
    units = {
        f"参加单位{n}": {(item.id, rule.id): convert(spec, score.strip(), where)}
        for n, score in enumerate(text.split("/"), start=1)
    }
    return participant_averages(rubric, units).get(item.id)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_rule_case(case: Case):
    where = f"{CASES_FILE.name} line {case.line}"
    assert case.rubric in RUBRICS, f"{where}: no rubric {case.rubric!r}"
    rubric = RUBRICS[case.rubric]
    assert rubric.scorable, f"{where}: rubric {case.rubric} has no points to score"
    item = rubric.item(case.item)
    rules = {rule.id: rule for rule in item.rules}
    inputs = {}
    average = None
    for key, text in case.inputs:
        if key == PARTICIPANTS:
            average = participants_average(rubric, item, text, where)
            continue
        assert key in rules, f"{where}: item {case.item} has no rule {key!r} (rules: {', '.join(rules)})"
        inputs[(item.id, key)] = convert(rules[key].input_spec(item.max_points), text, f"{where} {key}")
    result = score_item(item, inputs, rubric.decimals, average)
    assert (result.score, result.bonus) == (case.score, case.bonus), (
        f"{where}: hand value (score {case.score}, bonus {case.bonus}) "
        f"but the engine gives (score {result.score}, bonus {result.bonus}); seed: {case.seed}"
    )


def test_every_rule_has_a_case():
    covered = {(case.rubric, case.item, key) for case in CASES for key, _ in case.inputs if key != PARTICIPANTS}
    missing = [
        f"{rubric.id} {item.id} {rule.id}（{rule.label}）"
        for rubric in RUBRICS.values()
        if rubric.status != "needs_allocation"
        for item in rubric.items
        for rule in item.rules
        if (rubric.id, item.id, rule.id) not in covered
    ]
    assert not missing, f"{len(missing)} rules have no case in {CASES_FILE.name}:\n" + "\n".join(missing)


def _squash(text: str) -> str:
    return "".join(text.split())


def _seed_text(rubric: Rubric) -> str:
    if rubric.id in CONVERTED_TEXT:
        return _squash("".join(f"{item.text}{item.scoring_text}{item.method_text}" for item in rubric.items))
    return _squash((SEEDS / rubric.source).read_text(encoding="utf-8"))


SEED_TEXTS = {rubric_id: _seed_text(rubric) for rubric_id, rubric in RUBRICS.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_seed_quotation_is_in_the_seed(case: Case):
    text = SEED_TEXTS[case.rubric]
    missing = [
        fragment
        for fragment in (_squash(part) for part in case.seed.split(FRAGMENT_SEPARATOR))
        if fragment and fragment not in text
    ]
    source = "rubric text" if case.rubric in CONVERTED_TEXT else RUBRICS[case.rubric].source
    assert not missing, f"{CASES_FILE.name} line {case.line}: not found in {source}: {missing}"
