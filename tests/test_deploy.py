"""The Kubernetes configuration in deploy/kubernetes/, checked as far as a machine without a
cluster allows: manifests validated against Kubernetes's own schemas (PyPI
``kubernetes-validate``, strict: unknown fields fail), the values sized from bench/README.md's
measured figures and wired to the exchange volume, and the grading-throughput table of
docs/instructors.md recomputed from bench/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml  # PyYAML: installed with JupyterLab (jupyter_events)

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
BENCH = (ROOT / "bench" / "README.md").read_text()
GUIDE = ROOT / "docs" / "instructors.md"
#: Kubernetes versions the manifests must be valid for (kubernetes-validate's schemas).
VERSIONS = ["1.30.0", "1.33.0"]


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _validate(manifest: dict, version: str) -> None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']} is not valid for "
                    f"Kubernetes {version}: {error.message} at {list(error.path)}")


def _quantity(text: str) -> float:
    """A Kubernetes memory quantity (``1.2G``, ``512Mi``) in bytes."""
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]i?)?", str(text)).groups()
    scale = {None: 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[unit]
    return float(number) * scale


def _values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


def _user_pod(values: dict) -> dict:
    """The parts of a user's pod that KubeSpawner makes from ``singleuser`` (resources, volumes)."""
    single = values["singleuser"]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "jupyter-student01", "labels": {"component": "singleuser-server"}},
        "spec": {
            "containers": [{
                "name": "notebook",
                "image": f"{single['image']['name']}:{single['image']['tag']}",
                "resources": {
                    "requests": {"memory": single["memory"]["guarantee"],
                                 "cpu": str(single["cpu"]["guarantee"])},
                    "limits": {"memory": single["memory"]["limit"],
                               "cpu": str(single["cpu"]["limit"])},
                },
                "volumeMounts": single["storage"]["extraVolumeMounts"],
            }],
            "volumes": single["storage"]["extraVolumes"],
        },
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_exchange_manifests_are_valid_kubernetes(version: str):
    documents = _documents(K8S / "exchange-pvc.yaml")
    assert [d["kind"] for d in documents] == ["PersistentVolumeClaim", "Job"]
    for document in documents:
        _validate(document, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_users_pod_from_the_values_is_valid_kubernetes(version: str):
    _validate(_user_pod(_values()), version)


def test_a_schema_violation_is_caught():
    """The validator is strict: a misspelt field fails (so the tests above can fail)."""
    import kubernetes_validate

    claim = _documents(K8S / "exchange-pvc.yaml")[0]
    claim["spec"]["accesMode"] = ["ReadWriteMany"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(claim, VERSIONS[-1], strict=True)


def test_the_exchange_is_shared_and_mounted_where_nbgrader_looks():
    claim = _documents(K8S / "exchange-pvc.yaml")[0]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    single = _values()["singleuser"]
    volume, = single["storage"]["extraVolumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    mount, = single["storage"]["extraVolumeMounts"]
    assert mount["name"] == volume["name"]
    config = single["extraFiles"]["nbgrader-config"]
    assert config["mountPath"] == "/etc/jupyter/nbgrader_config.py"
    assert f'c.Exchange.root = "{mount["mountPath"]}"' in config["stringData"]
    assert 'c.CourseDirectory.course_id = "nn_python"' in config["stringData"]


def test_memory_is_sized_from_the_benchmark():
    largest = int(re.search(r"largest kernel (\d+) MB", BENCH)[1])
    server_and_two = int(re.search(r"Binder fit: server \+ .*?peak (\d+) MB", BENCH)[1])
    memory = _values()["singleuser"]["memory"]
    assert _quantity(memory["guarantee"]) >= largest * 2**20, "guarantee below one kernel's peak"
    assert _quantity(memory["limit"]) >= server_and_two * 2**20, "limit below two kernels"
    assert _quantity(memory["guarantee"]) <= _quantity(memory["limit"])


def test_idle_servers_are_culled():
    cull = _values()["cull"]
    assert cull["enabled"] is True
    assert 0 < cull["timeout"] <= 4 * 3600 and cull["every"] < cull["timeout"]


def test_the_image_is_built_from_this_repository():
    dockerfile = (K8S / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert "jupyterhub" in dockerfile and 'CMD ["jupyterhub-singleuser"]' in dockerfile
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M):
        for path in source.split():
            if path != "deploy/kubernetes/data/mnist.npz":  # staged by the instructor
                assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which is missing"


def throughput_minutes(students: int, cores: int) -> float:
    """Minutes to grade ``students`` full-course submissions on ``cores`` cores: an
    extrapolation from bench/README.md's measured seconds per notebook at --jobs 2 on 2 cores,
    assuming throughput grows in proportion to cores (one grading worker per core)."""
    # The largest class bench/README.md graded: its --jobs 2 row (2 cores).
    runs = re.findall(r"grading (\d+) notebooks \(\d+ students\), --jobs 1 \|[^\n]*\n"
                      r"\| same, --jobs 2 \| \d+ s, ([\d.]+) s per notebook", BENCH)
    assert runs, "no grading figures in bench/README.md"
    seconds_per_notebook_2_cores = float(max(runs, key=lambda run: int(run[0]))[1])
    notebooks = students * len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))
    core_seconds = seconds_per_notebook_2_cores * 2
    return notebooks * core_seconds / cores / 60


def test_the_guides_throughput_table_is_the_extrapolation_of_the_benchmark():
    guide = GUIDE.read_text()
    assert "extrapolat" in guide.lower()
    rows = re.findall(r"^\| (\d+) cores? \| ([\d,.]+) min", guide, flags=re.M)
    assert rows, "no throughput table in docs/instructors.md"
    for cores, minutes in rows:
        expected = throughput_minutes(300, int(cores))
        assert float(minutes.replace(",", "")) == pytest.approx(expected, rel=0.02, abs=1), cores
