"""The package version, in one place (read by pyproject.toml, the CLI and exported files)."""

__version__ = "0.1.0"
