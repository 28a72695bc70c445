from enum import StrEnum


class RetryOnItem(StrEnum):
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    LOST = "lost"
    NO_CAPACITY = "no_capacity"

    def __str__(self) -> str:
        return str(self.value)
