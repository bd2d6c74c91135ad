"""align: post-training methods as resumable, reproducible recipes of stages."""
__version__ = "0.1.0"
