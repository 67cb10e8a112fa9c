"""The docs stay true: generated sections match the code, examples match the schema.

When a generated section is stale, run `python -m simgql.docs` from the repository root and
commit the result. When an example stops validating, fix the example (or the schema change).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from simgql import docs
from simgql.api.schema import schema
from simgql.domain.fulfilment import SALES_ORDER_STEPS, SalesOrderStatus
from simgql.domain.lifecycle import LIFECYCLE
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples.md"
REGENERATE = "run `python -m simgql.docs` from the repository root, then commit docs/"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


# --- generated sections ------------------------------------------------------------------


def test_every_setting_has_a_description() -> None:
    assert docs.missing_descriptions() == [], (
        "add a one-line description of each new setting to DESCRIPTIONS in "
        f"src/simgql/docs.py, then {REGENERATE}"
    )
    assert docs.unknown_descriptions() == [], (
        f"remove the descriptions of settings that no longer exist from src/simgql/docs.py, "
        f"then {REGENERATE}"
    )


def test_a_missing_description_stops_the_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(docs.DESCRIPTIONS, "database_url")
    with pytest.raises(ValueError, match="database_url"):
        docs.render_config_table()


@pytest.mark.parametrize(("file_name", "section"), sorted(docs.SECTIONS))
def test_generated_section_is_fresh(file_name: str, section: str) -> None:
    text = (DOCS / file_name).read_text(encoding="utf-8")
    committed = docs.extract_section(text, section)
    rendered = docs.SECTIONS[(file_name, section)]()
    assert committed == rendered, f"docs/{file_name} [{section}] is stale: {REGENERATE}"


def test_config_table_lists_every_setting_and_no_home_directory() -> None:
    table = docs.render_config_table()
    for name in Settings.model_fields:
        assert f"`SIMGQL_{name.upper()}`" in table
    home = str(Path.home())
    if home not in ("", "/"):
        assert home not in table
    assert "simgql-demo-secret" not in table  # the demo secret is named, not printed


def test_diagrams_cover_every_status_and_step() -> None:
    po = docs.render_po_lifecycle()
    assert po.splitlines()[1] == "stateDiagram-v2"
    for status in PurchaseOrderStatus:
        assert status.value in po
    for t in LIFECYCLE:
        for source in t.from_statuses:
            assert f"{source.value} --> {t.to_status.value}: {t.action.value} by" in po
    so = docs.render_sales_order_lifecycle()
    for status in SalesOrderStatus:
        assert status.value in so
    for step, (sources, target) in SALES_ORDER_STEPS.items():
        for source in sources:
            assert f"{source.value} --> {target.value}: {step.value}" in so


def test_replace_section_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="generated:config"):
        docs.replace_section("no markers here", "config", "x")
    text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n"
    assert docs.replace_section(text, "x", "new") == (
        "a\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\nb\n"
    )


def test_main_rewrites_stale_sections_and_check_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for file_name in docs.files():
        shutil.copy(DOCS / file_name, tmp_path / file_name)
    target = tmp_path / "configuration.md"
    target.write_text(
        docs.replace_section(target.read_text(encoding="utf-8"), "config", "stale"),
        encoding="utf-8",
    )

    assert docs.main(["--docs-dir", str(tmp_path), "--check"]) == 1
    assert "stale" in target.read_text(encoding="utf-8")  # --check changes nothing
    assert docs.main(["--docs-dir", str(tmp_path)]) == 0
    assert docs.main(["--docs-dir", str(tmp_path), "--check"]) == 0
    assert target.read_text(encoding="utf-8") == (DOCS / "configuration.md").read_text(
        encoding="utf-8"
    )
    assert "rewrote" in capsys.readouterr().out
    assert docs.main(["--docs-dir", str(tmp_path / "missing")]) == 2


# --- examples ----------------------------------------------------------------------------


def _examples() -> list[tuple[str, str, dict[str, Any] | None]]:
    """(operation name, document, variables or None) of every graphql block, in order."""
    blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(EXAMPLES.read_text("utf-8"))]
    found = []
    for i, (lang, body) in enumerate(blocks):
        if lang != "graphql":
            continue
        variables = None
        if i + 1 < len(blocks) and blocks[i + 1][0] == "json":
            variables = json.loads(blocks[i + 1][1])
        match = re.search(r"\b(?:query|mutation|subscription)\s+(\w+)", body)
        found.append((match.group(1) if match else f"block-{i}", body, variables))
    return found


EXAMPLE_BLOCKS = _examples()


def test_examples_exist_for_every_role() -> None:
    text = EXAMPLES.read_text(encoding="utf-8")
    for role in Role:
        assert re.search(rf"^## {role.value}$", text, re.MULTILINE), f"no section for {role}"
    assert len(EXAMPLE_BLOCKS) >= 20
    names = [name for name, _, _ in EXAMPLE_BLOCKS]
    assert len(names) == len(set(names)), "operation names repeat"


@pytest.mark.parametrize(
    ("name", "document", "variables"), EXAMPLE_BLOCKS, ids=[b[0] for b in EXAMPLE_BLOCKS]
)
def test_example_is_valid(name: str, document: str, variables: dict[str, Any] | None) -> None:
    ast = parse(document)
    errors = validate(schema._schema, ast)
    assert errors == [], f"{name} does not validate: {[e.message for e in errors]}"

    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, f"{name}: one operation per example"
    definitions = operations[0].variable_definitions or ()
    defined = {d.variable.name.value for d in definitions}
    required = {
        d.variable.name.value
        for d in definitions
        if d.type.kind == "non_null_type" and d.default_value is None
    }
    if required:
        assert variables is not None, f"{name} needs a ```json block with {sorted(required)}"
    if variables is None:
        return
    assert set(variables) <= defined, f"{name}: unknown variables {set(variables) - defined}"
    coerced = get_variable_values(schema._schema, definitions, variables)
    assert not isinstance(coerced, list), f"{name}: {[e.message for e in coerced]}"
