"""The one error type users of the core see for input they gave us."""


class InvalidImageError(ValueError):
    """The input is not an image we can read; the message is written for the end user."""


class DataError(ValueError):
    """The MNIST data file is missing or malformed; the message says how to fix it."""
