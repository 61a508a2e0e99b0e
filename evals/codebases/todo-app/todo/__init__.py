"""A small command-line todo manager."""
