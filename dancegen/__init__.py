"""dancegen: music- and text-driven 3D dance generation."""

__version__ = "0.1.0"
