"""Differential test: vaultlet's ACL must answer `sys/capabilities` exactly as OpenBao does.

A real OpenBao dev server gets the policies in `support/acl_cases.py` and one token per probe
set, and its answers are the reference. Each entry of `IMPLEMENTATIONS` is then compared with
those answers, probe by probe: the in-process `ACL`, and a vaultlet server answering
`sys/capabilities` over HTTP (its policy store, token policies and compiled-ACL cache included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from support.acl_cases import (
    ACCEPTED_ODDITIES,
    POLICIES,
    PROBE_SETS,
    PROBES,
    REJECTED_POLICIES,
    Probe,
    ProbeSet,
)
from support.processes import ServerProcess, http
from vaultlet.core.acl import (
    ACL,
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_TEXT,
    ROOT_POLICY_NAME,
    Policy,
    PolicyError,
    parse_policy,
)

Answers = dict[Probe, list[str]]


# --------------------------------------------------------------------------------------------
# Asking a server over HTTP
# --------------------------------------------------------------------------------------------


def capabilities_via_http(server: ServerProcess, token: str, paths: Iterable[str]) -> dict[str, list[str]]:
    """`POST sys/capabilities` for another token (the call needs the server's root token)."""
    paths = list(paths)
    status, body, text = http(server, "POST", "sys/capabilities", {"token": token, "paths": paths})
    assert status == 200, f"sys/capabilities answered {status}: {text}"
    # With a single path the answer also carries a legacy "capabilities" key; pick the paths only.
    return {path: body["data"][path] for path in paths}


def write_policy(server: ServerProcess, name: str, text: str) -> tuple[int, str | None]:
    """(status, first error message) of `PUT sys/policies/acl/<name>`."""
    status, body, _ = http(server, "PUT", f"sys/policies/acl/{name}", {"policy": text})
    errors = (body or {}).get("errors") or [None]
    return status, errors[0]


def create_token(server: ServerProcess, probe_set: ProbeSet) -> str:
    request = {"policies": list(probe_set.policies), "no_default_policy": probe_set.no_default_policy}
    status, body, text = http(server, "POST", "auth/token/create", request)
    assert status == 200, f"auth/token/create answered {status}: {text}"
    granted = sorted(body["auth"]["policies"])
    assert granted == sorted(probe_set.effective_policies), (
        f"{probe_set.name}: the token got {granted}, the case assumes {sorted(probe_set.effective_policies)}"
    )
    return body["auth"]["client_token"]


def answers_over_http(server: ServerProcess) -> Answers:
    """Install every case policy on `server`, then ask it about every probe."""
    for name, text in POLICIES.items():
        status, error = write_policy(server, name, text)
        assert status == 204, f"{server.kind} refused policy {name!r}: {error}"
    answers: Answers = {}
    for probe_set in PROBE_SETS:
        by_path = capabilities_via_http(server, create_token(server, probe_set), probe_set.paths)
        answers.update({Probe(probe_set, path): by_path[path] for path in probe_set.paths})
    return answers


# --------------------------------------------------------------------------------------------
# Asking vaultlet's ACL in process
# --------------------------------------------------------------------------------------------


def case_policies() -> dict[str, Policy]:
    texts = {**POLICIES, DEFAULT_POLICY_NAME: DEFAULT_POLICY_TEXT, ROOT_POLICY_NAME: ""}
    return {name: parse_policy(name, text) for name, text in texts.items()}


def answers_in_process() -> Answers:
    policies = case_policies()
    answers: Answers = {}
    for probe_set in PROBE_SETS:
        acl = ACL(policies[name] for name in probe_set.effective_policies)
        answers.update({Probe(probe_set, path): acl.capabilities(path) for path in probe_set.paths})
    return answers


# name -> how to get its answers (given the pytest request, to reach fixtures such as `server`).
IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest], Answers]] = {
    "in-process-acl": lambda request: answers_in_process(),
    "vaultlet-http": lambda request: answers_over_http(request.getfixturevalue("server")),
}


@pytest.fixture(scope="module")
def openbao_answers(openbao: ServerProcess) -> Answers:
    return answers_over_http(openbao)


def describe_mismatches(reference: Answers, candidate: Answers, implementation: str) -> str:
    lines = [
        f"{probe.probe_set.name} {list(probe.probe_set.effective_policies)} {probe.path!r}: "
        f"openbao={reference[probe]} {implementation}={candidate.get(probe)}"
        for probe in PROBES
        if candidate.get(probe) != reference[probe]
    ]
    if not lines:
        return ""
    return f"{len(lines)} of {len(PROBES)} probes differ:\n" + "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_the_corpus_is_big_enough():
    assert len(PROBES) >= 200
    assert len(set(PROBES)) == len(PROBES), "a probe is listed twice"


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
def test_capabilities_agree_with_openbao(
    implementation: str, openbao_answers: Answers, request: pytest.FixtureRequest
):
    candidate = IMPLEMENTATIONS[implementation](request)
    mismatches = describe_mismatches(openbao_answers, candidate, implementation)
    assert not mismatches, mismatches


def test_default_policy_text_is_openbaos(openbao: ServerProcess):
    status, body, text = http(openbao, "GET", f"sys/policies/acl/{DEFAULT_POLICY_NAME}")
    assert status == 200, text
    assert body["data"]["policy"] == DEFAULT_POLICY_TEXT


def test_policy_rejections_agree_with_openbao(openbao: ServerProcess):
    differences = []
    for case in REJECTED_POLICIES:
        status, theirs = write_policy(openbao, f"rejected-{case.name}", case.text)
        try:
            parse_policy(case.name, case.text)
            ours = None
        except PolicyError as error:
            ours = str(error)
        if status != 400 or ours is None or (case.same_message and ours != theirs):
            differences.append(f"{case.name}: openbao={status} {theirs!r} vaultlet={ours!r}")
    assert not differences, "\n".join(differences)


def test_odd_but_valid_policies_are_accepted_by_both(openbao: ServerProcess):
    differences = []
    for name, text in ACCEPTED_ODDITIES.items():
        status, error = write_policy(openbao, f"odd-{name}", text)
        try:
            parse_policy(name, text)
            ours = "accepted"
        except PolicyError as ours_error:
            ours = str(ours_error)
        if status != 204 or ours != "accepted":
            differences.append(f"{name}: openbao={status} {error!r} vaultlet={ours!r}")
    assert not differences, "\n".join(differences)
