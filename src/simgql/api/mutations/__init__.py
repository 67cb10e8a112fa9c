"""Root mutation fields, grouped by what they change."""
