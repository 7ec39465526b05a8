"""harvester: harvest a digital archive's search results into clean datasets."""

__version__ = "0.1.0"
