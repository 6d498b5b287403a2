"""facecluster: code shared by the HTTP functions, the detection service and the clustering job."""

__version__ = "0.1.0"
