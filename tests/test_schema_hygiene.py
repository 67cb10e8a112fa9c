"""Schema hygiene: every element described, and no breaking change against the release.

When `test_every_schema_element_has_a_description` fails, add `description=` to what it
lists (see docs/api.md, "Schema evolution"). When the compatibility check fails, deprecate
the old field, argument or enum value instead of removing or changing it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import (
    BreakingChangeType,
    DangerousChangeType,
    GraphQLEnumType,
    GraphQLObjectType,
    build_schema,
    print_schema,
)

from simgql.api.schema import schema
from simgql.cli import main, schema_sdl
from simgql.schema_compat import compare, undocumented

ROOT = Path(__file__).resolve().parent.parent
RELEASED = ROOT / "schema" / "released.graphql"


def _warehouse_block(sdl: str) -> tuple[int, int]:
    """Where the `Warehouse` type's body is in an SDL string."""
    match = re.search(r"^type Warehouse implements Node \{\n.*?^\}", sdl, re.M | re.S)
    assert match is not None, "the SDL has no Warehouse type"
    return match.span()


def _without_enum_value(sdl: str, enum: str, value: str) -> str:
    """`sdl` as it was before `value` was added to `enum`."""
    built = build_schema(sdl)
    named = built.get_type(enum)
    assert isinstance(named, GraphQLEnumType)
    del named.values[value]
    return print_schema(built)


def _edit_warehouse(sdl: str, old: str, new: str) -> str:
    """`sdl` with `old` replaced by `new` once, inside the Warehouse type only."""
    start, end = _warehouse_block(sdl)
    block = sdl[start:end]
    assert block.count(old) == 1, f"{old!r} is not in the Warehouse type exactly once"
    return sdl[:start] + block.replace(old, new) + sdl[end:]


# --- descriptions ----------------------------------------------------------------------------


def test_every_schema_element_has_a_description() -> None:
    missing = undocumented(schema._schema)
    assert missing == [], (
        f"{len(missing)} schema element(s) have no description; add description= to each:\n  "
        + "\n  ".join(missing)
    )


def test_the_description_check_names_what_is_missing() -> None:
    bare = build_schema(
        '"""Described."""\ntype Query {\n  """Described."""\n  a(x: Int): Int\n  b: Colour\n}\n'
        "enum Colour {\n  RED\n}\ninput Filter {\n  c: Int\n}\n"
    )

    assert undocumented(bare) == [
        "Colour",
        "Colour.RED",
        "Filter",
        "Filter.c",
        "Query.a(x)",
        "Query.b",
    ]


def test_enum_values_keep_their_names_and_gain_descriptions() -> None:
    role = schema._schema.get_type("Role")
    assert isinstance(role, GraphQLEnumType)
    assert role.description
    assert list(role.values) == [
        "ENTERPRISE_VIEWER",
        "ENTERPRISE_PURCHASER",
        "SP_AGENT",
        "SP_ADMIN",
        "WAREHOUSE",
    ]


# --- compatibility with the released schema --------------------------------------------------


def test_the_current_schema_has_no_breaking_change_against_the_release() -> None:
    result = compare(RELEASED.read_text(encoding="utf-8"), schema_sdl())

    assert result.breaking == [], "\n".join(result.report())


def test_a_removed_field_is_breaking() -> None:
    released = schema_sdl()
    current = build_schema(released)
    warehouse = current.get_type("Warehouse")
    assert isinstance(warehouse, GraphQLObjectType)
    del warehouse.fields["name"]

    result = compare(released, print_schema(current))

    assert not result.compatible
    assert [(c.type, c.description) for c in result.breaking] == [
        (BreakingChangeType.FIELD_REMOVED, "Field Warehouse.name was removed.")
    ]
    assert result.report()[0] == "breaking: FIELD_REMOVED: Field Warehouse.name was removed."


def test_a_changed_field_type_is_breaking() -> None:
    released = schema_sdl()
    current = _edit_warehouse(released, "code: String!", "code: String")

    result = compare(released, current)

    assert [c.type for c in result.breaking] == [BreakingChangeType.FIELD_CHANGED_KIND]
    assert "Warehouse.code" in result.breaking[0].description


def test_a_deprecation_is_not_breaking() -> None:
    released = schema_sdl()
    current = _edit_warehouse(
        released, "code: String!", 'code: String! @deprecated(reason: "Use `name`.")'
    )
    warehouse = build_schema(current).get_type("Warehouse")
    assert isinstance(warehouse, GraphQLObjectType)
    assert warehouse.fields["code"].deprecation_reason == "Use `name`."

    result = compare(released, current)

    assert result.compatible
    assert result.breaking == []
    assert result.dangerous == []


def test_an_added_enum_value_is_a_warning_not_a_failure() -> None:
    current = schema_sdl()
    released = _without_enum_value(current, "CatalogueKind", "APN_GROUP")

    result = compare(released, current)

    assert result.compatible
    assert [c.type for c in result.dangerous] == [DangerousChangeType.VALUE_ADDED_TO_ENUM]


# --- the command -----------------------------------------------------------------------------


def test_schema_check_passes_against_the_released_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "check", "--against", str(RELEASED)]) == 0
    assert "no breaking changes" in capsys.readouterr().out


def test_schema_check_fails_on_a_breaking_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A release that had a field the code no longer has: the code removed it.
    released = _edit_warehouse(schema_sdl(), "name: String!", "name: String!\n  capacity: Int!")
    path = tmp_path / "released.graphql"
    path.write_text(released, encoding="utf-8")

    assert main(["schema", "check", "--against", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "breaking: FIELD_REMOVED: Field Warehouse.capacity was removed." in out
    assert "1 breaking change(s)" in err


def test_schema_check_warns_about_dangerous_changes_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "released.graphql"
    released = _without_enum_value(schema_sdl(), "CatalogueKind", "APN_GROUP")
    path.write_text(released, encoding="utf-8")

    assert main(["schema", "check", "--against", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: VALUE_ADDED_TO_ENUM: Enum value CatalogueKind.APN_GROUP was added." in out


def test_schema_check_without_the_released_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "check", "--against", str(tmp_path / "missing.graphql")]) == 2
    assert "cannot read the released schema" in capsys.readouterr().err
