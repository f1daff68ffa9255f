"""iRDM reproduction library: comparison, representation, reference, training, evaluation, toy."""

__version__ = "0.1.0"
