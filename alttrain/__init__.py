"""alttrain: safety-align reasoning models through the structure of their training data."""

__version__ = "0.1.0"
