"""The JSON API under /api/ for community offices: one module per resource, shared dependencies in deps."""
