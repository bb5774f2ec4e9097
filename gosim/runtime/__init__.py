"""The allocator model. Mirrors Go's runtime files and names (see DESIGN.md)."""
