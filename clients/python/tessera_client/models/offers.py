from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.offer import Offer
    from ..models.offers_hardware import OffersHardware
    from ..models.ruled_out import RuledOut


T = TypeVar("T", bound="Offers")


@_attrs_define
class Offers:
    """
    Attributes:
        hardware (OffersHardware): The request as Tessera read it.
        offers (list[Offer]):
        ruled_out (list[RuledOut]):
        waiting (None | str): Why a run would wait now (every node that fits is busy).
        unmet (None | str): Why no node fits, when none does.
    """

    hardware: OffersHardware
    offers: list[Offer]
    ruled_out: list[RuledOut]
    waiting: None | str
    unmet: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        hardware = self.hardware.to_dict()

        offers = []
        for offers_item_data in self.offers:
            offers_item = offers_item_data.to_dict()
            offers.append(offers_item)

        ruled_out = []
        for ruled_out_item_data in self.ruled_out:
            ruled_out_item = ruled_out_item_data.to_dict()
            ruled_out.append(ruled_out_item)

        waiting: None | str
        waiting = self.waiting

        unmet: None | str
        unmet = self.unmet

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "hardware": hardware,
                "offers": offers,
                "ruled_out": ruled_out,
                "waiting": waiting,
                "unmet": unmet,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.offer import Offer  # noqa: PLC0415
        from ..models.offers_hardware import OffersHardware  # noqa: PLC0415
        from ..models.ruled_out import RuledOut  # noqa: PLC0415

        d = dict(src_dict)
        hardware = OffersHardware.from_dict(d.pop("hardware"))

        offers = []
        _offers = d.pop("offers")
        for offers_item_data in _offers:
            offers_item = Offer.from_dict(offers_item_data)

            offers.append(offers_item)

        ruled_out = []
        _ruled_out = d.pop("ruled_out")
        for ruled_out_item_data in _ruled_out:
            ruled_out_item = RuledOut.from_dict(ruled_out_item_data)

            ruled_out.append(ruled_out_item)

        def _parse_waiting(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        waiting = _parse_waiting(d.pop("waiting"))

        def _parse_unmet(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        unmet = _parse_unmet(d.pop("unmet"))

        offers = cls(
            hardware=hardware,
            offers=offers,
            ruled_out=ruled_out,
            waiting=waiting,
            unmet=unmet,
        )

        offers.additional_properties = d
        return offers

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
