"""The GraphQL API: Strawberry types, inputs, queries, mutations, loaders and error mapping."""
