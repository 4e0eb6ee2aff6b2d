"""Shoal's version (base floor: any module may import it without importing the package)."""

__version__ = "0.1.0"
