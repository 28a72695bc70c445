from enum import StrEnum


class BuildConfigurationPackage(StrEnum):
    IMAGE = "image"
    TAR_GZ = "tar.gz"

    def __str__(self) -> str:
        return str(self.value)
