"""SLURM's outputs parsed: captures of the test cluster (scripts/slurm.sh) and public ones
(tests/fixtures/slurm/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.testbeds.slurm import nodes, parse

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "slurm"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_node_of_the_test_cluster() -> None:
    (node,) = nodes.parse_nodes(_read("scontrol_show_node_local.txt"))
    assert node.name == "vm" and node.arch == "x86_64" and node.cpus == 2
    assert node.memory_bytes == 8000 * 2**20
    assert node.gres == (nodes.Gres("gpu", "h100", 2),)
    assert node.features == ("avx2", "cuda")
    assert node.partitions == ("debug",)
    assert node.state == "IDLE+COMPLETING" and node.online


def test_two_gres_types_with_socket_suffixes() -> None:
    (node,) = nodes.parse_nodes(_read("scontrol_show_node_two_types.txt"))
    assert node.gres == (nodes.Gres("gpu", "h100", 1, "0"), nodes.Gres("gpu", "a100", 1, "0"))
    (row,) = nodes.parse_sinfo(_read("sinfo_two_types.txt"))
    assert nodes.gres_list("gpu:h100:1(S:0),gpu:a100:1(S:0)") == list(node.gres)
    assert row.partition == "debug" and row.default and row.reason is None
    (single,) = nodes.parse_nodes(_read("scontrol_show_node_sockets.txt"))
    assert single.gres == (nodes.Gres("gpu", "h100", 2, "0"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpu:a100:4(S:0-1)", [nodes.Gres("gpu", "a100", 4, "0-1")]),
        ("gpu:tesla:2(S:0,2)", [nodes.Gres("gpu", "tesla", 2, "0,2")]),
        ("gpu:2", [nodes.Gres("gpu", None, 2)]),
        ("gpu", [nodes.Gres("gpu", None, 1)]),
        (
            "gpu:nvidia_h100_80gb_hbm3:8,mps:400",
            [nodes.Gres("gpu", "nvidia_h100_80gb_hbm3", 8), nodes.Gres("mps", None, 400)],
        ),
        ("bandwidth:lustre:4G", [nodes.Gres("bandwidth", "lustre", 4 * 2**30)]),
        ("(null)", []),
    ],
)
def test_gres_syntax(text: str, expected: list[nodes.Gres]) -> None:
    assert nodes.gres_list(text) == expected


def test_public_multi_line_node() -> None:
    # A 192-CPU node of a Slinky (Kubernetes) cluster, pasted in an issue, multi-line format.
    (node,) = nodes.parse_nodes(_read("public_slinky_scontrol_show_node.txt"))
    assert (node.name, node.cpus, node.arch) == ("slinky-0", 192, "x86_64")
    assert node.memory_bytes == 1031533 * 2**20
    assert node.state == "IDLE+DYNAMIC_NORM" and node.online
    assert node.partitions == ("all",)


def test_public_gpu_node_fragment() -> None:
    record = parse.fields(" ".join(_read("public_cranesched_gpu06_fragment.txt").split("\n")))
    assert nodes.gres_list(record["Gres"]) == [nodes.Gres("gpu", None, 2)]
    assert record["CfgTRES"] == "cpu=12,mem=254720M,gres/gpu=2"
    assert record["OS"] == "Linux 3.10.0-1062.el7.x86_64 #1 SMP Wed Aug 7 18:08:02 UTC 2019"


@pytest.mark.parametrize(
    ("state", "online"),
    [
        ("IDLE", True),
        ("MIXED", True),
        ("ALLOCATED", True),
        ("IDLE+COMPLETING", True),
        ("MIXED+DRAIN", False),
        ("IDLE+DRAIN", False),
        ("DOWN+NOT_RESPONDING", False),
        ("IDLE*", False),  # not responding
        ("IDLE~", True),  # powered down, resumed on demand
        ("INVAL", False),
        ("drain*", False),  # sinfo's spelling, from the CNAF capture
        ("down", False),
        ("idle", True),
    ],
)
def test_node_states(state: str, online: bool) -> None:
    assert nodes.node_online(state) is online


def test_cnaf_states_are_known() -> None:
    words = _read("public_cnaf_sinfo_N.txt").split()
    states = {w for w in words if w.rstrip("*") in ("drain", "idle", "down")}
    assert states == {"drain*", "drain", "idle", "down"}
    assert [nodes.node_online(s) for s in sorted(states)] == [False, False, False, True]


def test_squeue_of_the_test_cluster() -> None:
    jobs = parse.parse_squeue(_read("squeue_local.txt"))
    assert jobs["41"] == parse.JobState("41", "PENDING", "JobHeldUser", None, name="fx-held")
    assert jobs["43"].reason == "Resources"
    assert jobs["42"].state == "RUNNING" and jobs["42"].start == "2026-11-22T02:06:33"
    later = parse.parse_squeue(_read("squeue_local_later.txt"))
    assert {later[j].state for j in later} >= {"COMPLETED", "FAILED", "CANCELLED", "DEADLINE"}


def test_sacct_of_the_test_cluster() -> None:
    text = _read("sacct_local.txt")
    jobs = parse.parse_sacct(text)
    states = {job.state for job in jobs.values()}
    assert {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "DEADLINE"} <= states
    # Job 8 failed with its node (slurmd restarted), was requeued, then cancelled: the
    # later record wins.
    assert "8|NODE_FAIL|" in text and jobs["8"].state == "CANCELLED"
    failed = next(j for j in jobs.values() if j.name == "fx-fail" and j.state == "FAILED")
    assert parse.exit_status(failed.exit_code) == (3, 0)


def test_sacct_state_with_who_cancelled() -> None:
    (job,) = parse.parse_sacct(
        "1479763|CANCELLED by 302137|0:0|2023-02-21T14:37:07|x|job\n"
    ).values()
    assert job.state == "CANCELLED"


def test_scontrol_show_job_keeps_the_gres() -> None:
    record = parse.fields(_read("scontrol_show_job_local.txt"))
    assert record["TresPerNode"] == "gres:gpu:h100:1"
    assert record["Comment"] == "fx-ok"
    assert record["Features"] == "avx2"


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("PENDING", "pending"),
        ("CONFIGURING", "pending"),
        ("REQUEUED", "pending"),
        ("RUNNING", "running"),
        ("COMPLETING", "running"),
        ("SUSPENDED", "running"),
        *[(s, "ended") for s in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")],
        *[(s, "ended") for s in ("PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")],
        ("CANCELLED by 1001", "ended"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_every_state_has_a_phase(state: str, phase: str) -> None:
    assert parse.job_phase(state) == phase


def test_pending_reason_is_shown() -> None:
    assert (
        parse.pending_reason(parse.JobState("1", "PENDING", "Resources"))
        == "SLURM: PENDING (Resources)"
    )
    assert parse.pending_reason(parse.JobState("1", "SUSPENDED")) == "SLURM: SUSPENDED"
    assert parse.pending_reason(parse.JobState("1", "RUNNING")) is None


# Properties (hypothesis): any text parses without an exception, and what SLURM would print
# for generated nodes, gres and jobs reads back as what was generated.

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
_gres_types = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda word: not word.isdigit()
)
_sockets = st.one_of(st.none(), st.sampled_from(["0", "1", "0-1", "0,2", "0-3"]))
_gres = st.builds(
    nodes.Gres, name=_names, type=st.one_of(st.none(), _gres_types),
    count=st.integers(1, 4096), sockets=_sockets,
)  # fmt: skip


def _gres_text(gres: nodes.Gres) -> str:
    text = gres.name + (f":{gres.type}" if gres.type else "") + f":{gres.count}"
    return text + (f"(S:{gres.sockets})" if gres.sockets else "")


@given(st.lists(_gres, min_size=1, max_size=4))
def test_gres_lists_read_back(entries: list[nodes.Gres]) -> None:
    assert nodes.gres_list(",".join(_gres_text(g) for g in entries)) == entries


@given(st.text())
def test_any_text_parses_without_an_error(text: str) -> None:
    nodes.gres_list(text)
    nodes.parse_nodes(text)
    nodes.parse_sinfo(text)
    parse.parse_squeue(text)
    parse.parse_sacct(text)
    nodes.node_online(text)
    parse.job_phase(text)
    parse.exit_status(text)


_states = st.sampled_from(sorted(parse.PENDING_STATES | parse.RUNNING_STATES | parse.ENDED_STATES))
_job_ids = st.integers(1, 10**9).map(str)
_words_without_bars = st.from_regex(r"[A-Za-z0-9_(),.:-]{1,20}", fullmatch=True)


@given(st.dictionaries(_job_ids, st.tuples(_states, _words_without_bars, _names), max_size=30))
def test_squeue_rows_read_back(jobs: dict[str, tuple[str, str, str]]) -> None:
    text = "\n".join(
        f"{job}|{state}|{reason}|2026-11-29T10:00:00|tessera-{name}"
        for job, (state, reason, name) in jobs.items()
    )
    parsed = parse.parse_squeue(text)
    assert set(parsed) == set(jobs)
    for job, (state, reason, name) in jobs.items():
        assert (parsed[job].state, parsed[job].name) == (state, f"tessera-{name}")
        assert parsed[job].reason == (None if reason in parse.NULL else reason)
        assert parse.job_phase(parsed[job].state) in ("pending", "running", "ended")


@given(
    st.dictionaries(
        _job_ids, st.tuples(_states, st.integers(0, 255), st.integers(0, 64)), max_size=30
    )
)
def test_sacct_rows_read_back_and_steps_are_dropped(jobs: dict[str, tuple[str, int, int]]) -> None:
    lines = []
    for job, (state, code, signal) in jobs.items():
        lines.append(f"{job}|{state}|{code}:{signal}|Unknown|Unknown|tessera-{job}")
        lines.append(f"{job}.batch|{state}|{code}:{signal}|Unknown|Unknown|batch")
    parsed = parse.parse_sacct("\n".join(lines))
    assert set(parsed) == set(jobs)
    for job, (state, code, signal) in jobs.items():
        assert parsed[job].state == state and parsed[job].start is None
        assert parse.exit_status(parsed[job].exit_code) == (code, signal)


def test_what_runs_may_ask_of_the_cluster() -> None:
    reservation = (FIXTURES / "scontrol_show_reservation_local.txt").read_text()
    no_dbd = (FIXTURES / "sacctmgr_assoc_no_dbd.txt").read_text() + parse.UNREADABLE + "\n"
    assert parse.allowed(no_dbd, reservation) == {
        "accounts": None, "qos": None, "reservations": ["tessera-capture"]
    }  # fmt: skip
    # sacctmgr -n -P show assoc format=account,qos: one association per line, qos comma-listed
    associations = "physics|normal,high\nphysics|normal\nml-team|\n"
    found = parse.allowed(associations, "No reservations in the system\n")
    assert found == {"accounts": ["physics", "ml-team"], "qos": ["normal", "high"],
                     "reservations": []}  # fmt: skip
    assert parse.allowed("", parse.UNREADABLE)["reservations"] is None
