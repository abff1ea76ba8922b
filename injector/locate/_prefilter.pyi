"""Types of the C prefilter (injector/locate/_prefilter.c)."""

TRAINING_MARKER: int
MAIN_MARKER: int

def read_marked(path: str, /) -> tuple[int, bytes | None]: ...
