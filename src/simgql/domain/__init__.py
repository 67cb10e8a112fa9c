"""Pure business rules of simgql: statuses, the lifecycle table, roles, validation, errors."""
