"""examples/deploy: the Kubernetes manifests and the systemd unit are checked, not just shipped.

- Every manifest is parsed (PyYAML) and validated, strictly (unknown fields refused),
  against Kubernetes' own OpenAPI schemas with kubernetes-validate, offline.
  `kubectl apply --dry-run=client` cannot do this here: even a client-side dry run asks
  an API server for its resource list, and no kube-apiserver runs on this machine.
- The manifests refer to each other consistently (labels, ports, ConfigMap, ServiceAccount).
- The ConfigMap's and the systemd example's server configs load in vaultlet's own parser.
- The probe paths are sent to a real vaultlet server in each state: liveness stays up while
  uninitialised or sealed, readiness only passes once unsealed.
- `systemd-analyze verify` accepts the unit without a warning, and `systemd-analyze security`
  rates its sandbox at exposure 2.0 or better.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import yaml

from support.processes import free_port, http, production_config, start_vaultlet_config
from vaultlet import config
from vaultlet.storage.seals.awskms import AwsKmsSeal

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
UNIT = DEPLOY / "systemd" / "vaultlet.service"


def _manifests() -> dict[str, dict]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk  # nothing shipped that `kubectl apply -k` would skip
    documents = {}
    for name in listed:
        for document in yaml.safe_load_all((KUBERNETES / name).read_text()):
            documents[document["kind"]] = document
    return documents


def test_manifests_validate_against_the_kubernetes_schemas():
    version = kubernetes_validate.latest_version()
    manifests = _manifests()
    assert set(manifests) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
    }
    for document in manifests.values():
        kubernetes_validate.validate(document, version, strict=True)  # raises on any error


def test_manifests_fit_together():
    m = _manifests()
    deployment, service, pdb = m["Deployment"], m["Service"], m["PodDisruptionBudget"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        deployment["spec"]["replicas"] >= 2 and pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    )
    assert pod["spec"]["serviceAccountName"] == m["ServiceAccount"]["metadata"]["name"]

    container = pod["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"].startswith("/v1/sys/health?")
        assert container[probe]["httpGet"]["port"] in port_names
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == m["ConfigMap"]["metadata"]["name"]
    config_mount = next(v for v in container["volumeMounts"] if v["name"] == "config")
    assert config_mount["subPath"] in m["ConfigMap"]["data"]
    assert f"-config={config_mount['mountPath']}" in container["args"]

    # Hardening that must not quietly go away.
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    # The Secrets the Deployment needs are the ones the README tells how to create.
    readme = (DEPLOY / "README.md").read_text()
    secret_names = {volumes["tls"]["secret"]["secretName"]}
    secret_names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    for name in secret_names:
        assert "kubectl create secret" in readme and name in readme


def test_configmap_config_loads_in_vaultlet(tmp_path, monkeypatch):
    path = tmp_path / "vaultlet.hcl"
    path.write_text(_manifests()["ConfigMap"]["data"]["vaultlet.hcl"])
    monkeypatch.setenv("VAULTLET_PG_CONNECTION_URL", "postgresql://vaultlet@db/vaultlet")
    loaded = config.load(str(path))
    assert loaded.core.storage_url == "postgresql+psycopg://vaultlet@db/vaultlet"
    assert isinstance(loaded.seal, AwsKmsSeal) and loaded.seal.kms_key_id == "alias/vaultlet-seal"
    assert loaded.listener.tls_cert_file == "/etc/vaultlet/tls/tls.crt"


def test_systemd_example_config_loads_in_vaultlet():
    loaded = config.load(str(DEPLOY / "systemd" / "vaultlet.hcl"))
    assert loaded.core.storage_url == "sqlite:////var/lib/vaultlet/vaultlet.db"
    assert isinstance(loaded.seal, AwsKmsSeal)


def test_probe_paths_against_a_real_server(tmp_path):
    container = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    liveness = container["livenessProbe"]["httpGet"]["path"].removeprefix("/v1/")
    readiness = container["readinessProbe"]["httpGet"]["path"].removeprefix("/v1/")

    def passes(path: str) -> bool:  # the kubelet's rule for an HTTP probe
        return 200 <= http(server, "GET", path, token=None)[0] < 400

    port = free_port()
    server = start_vaultlet_config(tmp_path, production_config(tmp_path, port), "", port)
    try:
        assert passes(liveness) and not passes(readiness)  # uninitialised: alive, not ready
        status, body, _ = http(
            server, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token=None
        )
        assert status == 200
        server.root_token = body["root_token"]
        assert passes(liveness) and passes(readiness)
        assert http(server, "PUT", "sys/seal", {})[0] == 204
        assert passes(liveness) and not passes(readiness)  # sealed: alive, not ready
    finally:
        server.stop()


def test_systemd_unit_verifies_and_is_sandboxed(tmp_path):
    # systemd-analyze checks that ExecStart's program exists: point it at the real one.
    real_binary = Path(sys.executable).with_name("vaultlet")
    unit = tmp_path / "vaultlet.service"
    unit.write_text(UNIT.read_text().replace("/opt/vaultlet/bin/vaultlet", str(real_binary)))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run `make deploy-tools`"
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr
    # Exposure is reported 0.0-10.0; --threshold counts tenths.
    security = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert security.returncode == 0, security.stdout[-2000:]
    assert "Overall exposure level for vaultlet.service" in security.stdout

    # A typo in a hardening option is caught (verify warns about unknown keys).
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("ProtectClock=yes", "ProtectClok=yes"))
    verify = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "Unknown key" in verify.stdout + verify.stderr
