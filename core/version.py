"""The core's version, which plugin manifests state their requirement against."""

__version__ = "0.1.0"
