from enum import StrEnum


class InspectionSpecPackageManagerType0(StrEnum):
    MICROPIPENV = "micropipenv"
    PIP = "pip"
    PIPENV = "pipenv"

    def __str__(self) -> str:
        return str(self.value)
