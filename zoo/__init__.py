"""zoo package."""
