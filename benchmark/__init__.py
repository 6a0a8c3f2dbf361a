"""servicebench: service-quality benchmarking by scripted mystery shopping."""

__version__ = "0.1.0"
