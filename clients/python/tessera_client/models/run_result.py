from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.run_result_hwinfo import RunResultHwinfo
    from ..models.run_result_os_release_type_0 import RunResultOsReleaseType0
    from ..models.run_result_usage_type_0 import RunResultUsageType0


T = TypeVar("T", bound="RunResult")


@_attrs_define
class RunResult:
    """A finished run's result document (Amun's keys, plus where and how it ended).

    Attributes:
        run_id (str):
        index (int):
        testbed (None | str):
        node (None | str):
        hwinfo (RunResultHwinfo): What the probe found on the node the run used.
        stdout (Any): Parsed JSON when stdout is JSON, else the text.
        stderr (str):  Default: ''.
        exit_code (int | None):
        signal (None | str):
        timed_out (bool):  Default: False.
        cancelled (bool):  Default: False.
        script_sha256 (None | str):
        usage (None | RunResultUsageType0): The command's rusage.
        start_datetime (None | str):
        end_datetime (None | str):
        os_release (None | RunResultOsReleaseType0):
        hostname (None | str):
        stdout_truncated (bool):  Default: False.
        stderr_truncated (bool):  Default: False.
        error (None | str): Why the runner could not run the command.
    """

    run_id: str
    index: int
    testbed: None | str
    node: None | str
    hwinfo: RunResultHwinfo
    stdout: Any
    exit_code: int | None
    signal: None | str
    script_sha256: None | str
    usage: None | RunResultUsageType0
    start_datetime: None | str
    end_datetime: None | str
    os_release: None | RunResultOsReleaseType0
    hostname: None | str
    error: None | str
    stderr: str = ""
    timed_out: bool = False
    cancelled: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.run_result_os_release_type_0 import RunResultOsReleaseType0  # noqa: PLC0415
        from ..models.run_result_usage_type_0 import RunResultUsageType0  # noqa: PLC0415

        run_id = self.run_id

        index = self.index

        testbed: None | str
        testbed = self.testbed

        node: None | str
        node = self.node

        hwinfo = self.hwinfo.to_dict()

        stdout = self.stdout

        stderr = self.stderr

        exit_code: int | None
        exit_code = self.exit_code

        signal: None | str
        signal = self.signal

        timed_out = self.timed_out

        cancelled = self.cancelled

        script_sha256: None | str
        script_sha256 = self.script_sha256

        usage: dict[str, Any] | None
        if isinstance(self.usage, RunResultUsageType0):
            usage = self.usage.to_dict()
        else:
            usage = self.usage

        start_datetime: None | str
        start_datetime = self.start_datetime

        end_datetime: None | str
        end_datetime = self.end_datetime

        os_release: dict[str, Any] | None
        if isinstance(self.os_release, RunResultOsReleaseType0):
            os_release = self.os_release.to_dict()
        else:
            os_release = self.os_release

        hostname: None | str
        hostname = self.hostname

        stdout_truncated = self.stdout_truncated

        stderr_truncated = self.stderr_truncated

        error: None | str
        error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "run_id": run_id,
                "index": index,
                "testbed": testbed,
                "node": node,
                "hwinfo": hwinfo,
                "stdout": stdout,
                "stderr": stderr,
                "exit_code": exit_code,
                "signal": signal,
                "timed_out": timed_out,
                "cancelled": cancelled,
                "script_sha256": script_sha256,
                "usage": usage,
                "start_datetime": start_datetime,
                "end_datetime": end_datetime,
                "os_release": os_release,
                "hostname": hostname,
                "stdout_truncated": stdout_truncated,
                "stderr_truncated": stderr_truncated,
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.run_result_hwinfo import RunResultHwinfo  # noqa: PLC0415
        from ..models.run_result_os_release_type_0 import RunResultOsReleaseType0  # noqa: PLC0415
        from ..models.run_result_usage_type_0 import RunResultUsageType0  # noqa: PLC0415

        d = dict(src_dict)
        run_id = d.pop("run_id")

        index = d.pop("index")

        def _parse_testbed(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        testbed = _parse_testbed(d.pop("testbed"))

        def _parse_node(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        node = _parse_node(d.pop("node"))

        hwinfo = RunResultHwinfo.from_dict(d.pop("hwinfo"))

        stdout = d.pop("stdout")

        stderr = d.pop("stderr")

        def _parse_exit_code(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        exit_code = _parse_exit_code(d.pop("exit_code"))

        def _parse_signal(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        signal = _parse_signal(d.pop("signal"))

        timed_out = d.pop("timed_out")

        cancelled = d.pop("cancelled")

        def _parse_script_sha256(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        script_sha256 = _parse_script_sha256(d.pop("script_sha256"))

        def _parse_usage(data: object) -> None | RunResultUsageType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                usage_type_0 = RunResultUsageType0.from_dict(data)

                return usage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunResultUsageType0, data)

        usage = _parse_usage(d.pop("usage"))

        def _parse_start_datetime(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        start_datetime = _parse_start_datetime(d.pop("start_datetime"))

        def _parse_end_datetime(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        end_datetime = _parse_end_datetime(d.pop("end_datetime"))

        def _parse_os_release(data: object) -> None | RunResultOsReleaseType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                os_release_type_0 = RunResultOsReleaseType0.from_dict(data)

                return os_release_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunResultOsReleaseType0, data)

        os_release = _parse_os_release(d.pop("os_release"))

        def _parse_hostname(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        hostname = _parse_hostname(d.pop("hostname"))

        stdout_truncated = d.pop("stdout_truncated")

        stderr_truncated = d.pop("stderr_truncated")

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        run_result = cls(
            run_id=run_id,
            index=index,
            testbed=testbed,
            node=node,
            hwinfo=hwinfo,
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            signal=signal,
            timed_out=timed_out,
            cancelled=cancelled,
            script_sha256=script_sha256,
            usage=usage,
            start_datetime=start_datetime,
            end_datetime=end_datetime,
            os_release=os_release,
            hostname=hostname,
            stdout_truncated=stdout_truncated,
            stderr_truncated=stderr_truncated,
            error=error,
        )

        run_result.additional_properties = d
        return run_result

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
