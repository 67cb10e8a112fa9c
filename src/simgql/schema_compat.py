"""Schema hygiene: compatibility with the last released schema, and descriptions everywhere.

Clients build against the schema we released; a change that graphql-core's
`find_breaking_changes` calls breaking (a field, type, argument or enum value removed, a
type changed, an argument made required, ...) would break them. Evolve the schema by adding
and deprecating instead. Dangerous changes (an enum value or optional argument added, a
default changed, ...) are allowed but reported: clients may need to handle them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChange,
    DangerousChange,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)
from graphql.type import specified_scalar_types

RELEASED_SCHEMA = Path("schema") / "released.graphql"


@dataclass(frozen=True)
class Compatibility:
    """What changed between the released schema and the current one, per graphql-core."""

    breaking: list[BreakingChange]
    dangerous: list[DangerousChange]

    @property
    def compatible(self) -> bool:
        return not self.breaking

    def report(self) -> list[str]:
        """One line per change: breaking ones first, then dangerous ones as warnings."""
        return [f"breaking: {c.type.name}: {c.description}" for c in self.breaking] + [
            f"warning: {c.type.name}: {c.description}" for c in self.dangerous
        ]


def compare(released_sdl: str, current_sdl: str) -> Compatibility:
    """Compare two schemas given as SDL (the released one first)."""
    released = build_schema(released_sdl)
    current = build_schema(current_sdl)
    return Compatibility(
        breaking=find_breaking_changes(released, current),
        dangerous=find_dangerous_changes(released, current),
    )


def undocumented(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field and enum value without a description.

    Introspection types (`__*`) and the built-in scalars are GraphQL's own and skipped.
    """
    missing: list[str] = []
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not (named.description or "").strip():
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not (arg.description or "").strip():
                        missing.append(f"{name}.{field_name}({arg_name})")
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                if not (input_field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if not (value.description or "").strip():
                    missing.append(f"{name}.{value_name}")
    return missing
