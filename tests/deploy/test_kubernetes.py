"""deploy/k8s: valid for Kubernetes, and wired to what the app reads and serves."""

from __future__ import annotations

import copy
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from deployment import (
    INSTALL_TEST_EXTRA,
    K8S,
    ROOT,
    dockerfile,
    image_environment,
    load_yaml_documents,
    served_get_paths,
    unknown_settings,
)
from fakehub.fixtures import make_keys
from support import require_module, require_tool

from bot.queue import SHUTDOWN_SECONDS
from bot.settings import Settings, SettingsError

Manifest = dict[str, Any]
SECRET_TEMPLATE = "secret.yaml"
APP_COMPONENTS = ("web", "worker")
MANIFESTS: list[Manifest] = [
    doc
    for path in sorted(K8S.glob("*.yaml"))
    if path.name != "kustomization.yaml"
    for doc in load_yaml_documents(path)
]


def kind_and_name(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def the(kind: str, name: str) -> Manifest:
    found = [m for m in MANIFESTS if kind_and_name(m) == f"{kind}/{name}"]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def workloads() -> list[Manifest]:
    return [m for m in MANIFESTS if m["kind"] in ("Deployment", "StatefulSet")]


def app_workload(component: str) -> Manifest:
    return the("Deployment", f"wandb-inject-{component}")


def pod(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Manifest) -> dict[str, Any]:
    (container,) = pod(workload)["containers"]
    return dict(container)


def container_environment(
    container: dict[str, Any], config: dict[str, str], secret: dict[str, str]
) -> dict[str, str]:
    """The variables the container starts with: the image's, then the manifests'."""
    environment = image_environment()
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "wandb-inject"
        environment |= config
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "wandb-inject"
            environment[variable["name"]] = secret[reference["key"]]
    return environment


def config_data() -> dict[str, str]:
    return dict(the("ConfigMap", "wandb-inject")["data"])


def secret_data() -> dict[str, str]:
    return dict(the("Secret", "wandb-inject")["stringData"])


def mounted_secret_files(workload: Manifest) -> dict[str, str]:
    """Each path where the pod sees a key of the Secret, and the key's name."""
    volumes = {volume["name"]: volume for volume in pod(workload)["volumes"]}
    files = {}
    for mount in only_container(workload)["volumeMounts"]:
        source = volumes[mount["name"]].get("secret")
        if source is None:
            continue
        assert source["secretName"] == "wandb-inject"
        for item in source["items"]:
            files[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return files


@pytest.fixture(scope="module")
def validate() -> Any:
    require_module("kubernetes_validate", INSTALL_TEST_EXTRA)
    import kubernetes_validate

    return kubernetes_validate


@pytest.mark.parametrize("manifest", MANIFESTS, ids=kind_and_name)
def test_manifest_is_valid_for_the_oldest_and_newest_kubernetes(
    manifest: Manifest, validate: Any
) -> None:
    versions = validate.utils.all_versions()
    for version in (versions[0], versions[-1]):
        validate.validate(manifest, version, strict=True)


def test_the_schemas_refuse_a_misspelled_field(validate: Any) -> None:
    broken = copy.deepcopy(app_workload("web"))
    container = only_container(broken)
    container["readinesProbe"] = container.pop("readinessProbe")
    pod(broken)["containers"] = [container]

    with pytest.raises(validate.ValidationError, match="readinesProbe"):
        validate.validate(broken, validate.utils.latest_version(), strict=True)


def test_web_probes_ask_for_paths_the_app_serves(tmp_path: Path) -> None:
    container = only_container(app_workload("web"))
    liveness = container["livenessProbe"]["httpGet"]
    readiness = container["readinessProbe"]["httpGet"]
    port_names = {port["name"] for port in container["ports"]}

    assert (liveness["path"], readiness["path"]) == ("/healthz", "/readyz")
    assert {liveness["path"], readiness["path"]} <= served_get_paths(tmp_path)
    assert {liveness["port"], readiness["port"]} <= port_names


def test_web_listens_on_its_container_port() -> None:
    web = app_workload("web")
    container = only_container(web)
    listen = container_environment(container, config_data(), secret_data())
    (port,) = container["ports"]
    annotations = web["spec"]["template"]["metadata"]["annotations"]

    assert listen["WANDB_INJECT_LISTEN"].rpartition(":")[2] == str(
        port["containerPort"]
    )
    assert annotations["prometheus.io/port"] == str(port["containerPort"])


def test_every_variable_is_a_setting_the_app_reads() -> None:
    names = set(config_data())
    for workload in workloads():
        for container in pod(workload)["containers"]:
            names |= {variable["name"] for variable in container.get("env", [])}

    assert unknown_settings(names) == []


def test_references_name_keys_the_secret_has() -> None:
    keys = set(secret_data())
    for component in APP_COMPONENTS:
        workload = app_workload(component)
        container = only_container(workload)
        referenced = {
            variable["valueFrom"]["secretKeyRef"]["key"]
            for variable in container["env"]
            if "valueFrom" in variable
        }
        mounted = set(mounted_secret_files(workload).values())

        assert referenced | mounted <= keys, component
        assert mounted, f"{component} mounts no key"


@pytest.mark.parametrize("workload", workloads(), ids=kind_and_name)
def test_pod_runs_as_non_root_on_a_read_only_root(workload: Manifest) -> None:
    context = pod(workload)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] > 0
    for container in pod(workload)["containers"]:
        own = container["securityContext"]
        resources = container["resources"]

        assert own["readOnlyRootFilesystem"] is True
        assert own["allowPrivilegeEscalation"] is False
        assert own["capabilities"]["drop"] == ["ALL"]
        for bound in ("requests", "limits"):
            assert set(resources[bound]) == {"cpu", "memory"}, bound


@pytest.mark.parametrize("component", APP_COMPONENTS)
def test_app_pod_runs_as_the_images_user_and_can_write_its_folders(
    component: str,
) -> None:
    workload = app_workload(component)
    container = only_container(workload)
    environment = container_environment(container, config_data(), secret_data())
    volumes = {volume["name"]: volume for volume in pod(workload)["volumes"]}
    writable = {
        mount["mountPath"]
        for mount in container["volumeMounts"]
        if "emptyDir" in volumes[mount["name"]] and not mount.get("readOnly")
    }
    users = [
        line["value"]
        for line in dockerfile().structure
        if line["instruction"] == "USER"
    ]
    image_uid = users[-1].partition(":")[0]

    # The root is read-only: clones go to /tmp, and the data folder must exist.
    assert {"/tmp", environment["WANDB_INJECT_DATA_DIR"]} <= writable
    assert pod(workload)["securityContext"]["runAsUser"] == int(image_uid)


@pytest.mark.parametrize("component", APP_COMPONENTS)
def test_settings_load_from_what_the_pod_gets(component: str, tmp_path: Path) -> None:
    key = make_keys().private
    config = config_data() | {"WANDB_INJECT_APP_ID": "12345"}
    secret = {"private-key.pem": key, "webhook-secret": "s3cret"}

    settings = Settings.from_environment(
        pod_environment(component, config, secret, tmp_path)
    )
    queue = urlsplit(settings.queue_url)
    redis = the("Service", queue.hostname or "")

    assert (settings.app_id, settings.private_key) == (12345, key.strip())
    assert settings.webhook_secret == "s3cret"
    assert settings.uses_redis
    assert queue.port == redis["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("component", APP_COMPONENTS)
def test_the_templates_placeholders_stop_the_app(
    component: str, tmp_path: Path
) -> None:
    environment = pod_environment(component, config_data(), secret_data(), tmp_path)

    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(environment)

    problems = "\n".join(raised.value.problems)
    assert "WANDB_INJECT_APP_ID: expected the app's numeric id" in problems
    assert "does not hold a PEM private key" in problems


def pod_environment(
    component: str, config: dict[str, str], secret: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    """The container's variables, with the Secret's files written under tmp_path."""
    workload = app_workload(component)
    environment = container_environment(only_container(workload), config, secret)
    for path, key in mounted_secret_files(workload).items():
        local = tmp_path / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(secret[key])
        for name, value in environment.items():
            if value == path:
                environment[name] = str(local)
    return environment


def test_worker_outlasts_its_shutdown_timeout() -> None:
    grace = pod(app_workload("worker"))["terminationGracePeriodSeconds"]

    assert grace > SHUTDOWN_SECONDS


def test_redis_keeps_the_queue_on_a_volume() -> None:
    redis = the("StatefulSet", "wandb-inject-redis")
    container = only_container(redis)
    claims = {
        claim["metadata"]["name"] for claim in redis["spec"]["volumeClaimTemplates"]
    }
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}

    assert container["args"][-2:] == ["--appendonly", "yes"]
    assert mounts["/data"] in claims


@pytest.mark.parametrize(
    "service", [m for m in MANIFESTS if m["kind"] == "Service"], ids=kind_and_name
)
def test_service_selects_one_workload_and_its_port(service: Manifest) -> None:
    selector = service["spec"]["selector"].items()
    chosen = [
        w
        for w in workloads()
        if selector <= w["spec"]["template"]["metadata"]["labels"].items()
    ]

    assert len(chosen) == 1
    ports = {port["name"] for port in only_container(chosen[0])["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports


def test_only_the_app_may_reach_redis() -> None:
    policy = the("NetworkPolicy", "wandb-inject-redis")["spec"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    (expression,) = peer["podSelector"]["matchExpressions"]
    redis = the("StatefulSet", "wandb-inject-redis")["spec"]["template"]["metadata"]

    assert policy["podSelector"]["matchLabels"].items() <= redis["labels"].items()
    assert expression["key"] == "app.kubernetes.io/component"
    assert sorted(expression["values"]) == sorted(APP_COMPONENTS)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    others = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(kustomization["resources"]) == others - {SECRET_TEMPLATE}


def test_kustomize_renders_them_all_but_the_secret_with_this_release() -> None:
    # On these machines it comes with the Google Cloud CLI's packages.
    kubectl = require_tool(
        "kubectl", "the Kubernetes project's kubectl package (kustomize is built in)"
    )
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    documents = list(yaml.safe_load_all(rendered))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {
        container["image"]
        for doc in documents
        if doc["kind"] == "Deployment"
        for container in pod(doc)["containers"]
    }
    expected = {kind_and_name(m) for m in MANIFESTS} - {"Secret/wandb-inject"}

    assert {kind_and_name(doc) for doc in documents} == expected
    assert images == {f"wandb-inject:{version}"}
