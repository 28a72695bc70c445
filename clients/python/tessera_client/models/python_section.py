from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PythonSection")


@_attrs_define
class PythonSection:
    """
    Attributes:
        requirements (None | str | Unset): A Pipfile: its TOML text, or the same as a JSON object (Amun's form).
        requirements_locked (None | str | Unset): Its Pipfile.lock: the JSON text, or the object. Its _meta.hash must be
            the Pipfile's (checked here, as `pipenv install --deploy` does).
        requirements_txt (None | str | Unset): A requirements.txt (requirements and --hash only; no other options).
    """

    requirements: None | str | Unset = UNSET
    requirements_locked: None | str | Unset = UNSET
    requirements_txt: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        requirements: None | str | Unset
        if isinstance(self.requirements, Unset):
            requirements = UNSET
        else:
            requirements = self.requirements

        requirements_locked: None | str | Unset
        if isinstance(self.requirements_locked, Unset):
            requirements_locked = UNSET
        else:
            requirements_locked = self.requirements_locked

        requirements_txt: None | str | Unset
        if isinstance(self.requirements_txt, Unset):
            requirements_txt = UNSET
        else:
            requirements_txt = self.requirements_txt

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if requirements is not UNSET:
            field_dict["requirements"] = requirements
        if requirements_locked is not UNSET:
            field_dict["requirements_locked"] = requirements_locked
        if requirements_txt is not UNSET:
            field_dict["requirements_txt"] = requirements_txt

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_requirements(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        requirements = _parse_requirements(d.pop("requirements", UNSET))

        def _parse_requirements_locked(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        requirements_locked = _parse_requirements_locked(d.pop("requirements_locked", UNSET))

        def _parse_requirements_txt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        requirements_txt = _parse_requirements_txt(d.pop("requirements_txt", UNSET))

        python_section = cls(
            requirements=requirements,
            requirements_locked=requirements_locked,
            requirements_txt=requirements_txt,
        )

        return python_section
