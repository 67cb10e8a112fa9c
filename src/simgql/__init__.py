"""simgql: a GraphQL API server for ordering SIM cards and tracking the orders live."""
