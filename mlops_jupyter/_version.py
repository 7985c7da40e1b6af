"""The package version: a leaf, so anything may import it without reaching the package's front door."""

__version__ = "0.1.0"
