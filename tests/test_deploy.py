"""The Kubernetes configuration in deploy/kubernetes/, checked as far as a machine without a
cluster allows: manifests validated against Kubernetes's own schemas (PyPI
``kubernetes-validate``, strict: unknown fields fail), the values sized from bench/README.md's
measured figures and wired to the exchange volume, the grading cluster (Dask, in the operator's
and in a plain form, with its network policy) checked as far as the validator's schemas go, and
the grading-throughput table of docs/instructors.md recomputed from bench/README.md's current
figure.
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


def current_seconds_per_notebook() -> tuple[float, str]:
    """Seconds per notebook on one Dask worker (one notebook at a time, one core), from
    bench/README.md's newest run that measured it, and that run's date.

    The newest, not the largest class ever graded: the grader changes (the sandbox, a process
    per job, the re-check), and the guide extrapolates from what grading costs today.
    """
    runs = []
    for row in re.finditer(r"^\| same on Dask, one worker \| \d+ s, ([\d.]+) s per notebook",
                           BENCH, flags=re.M):
        dates = re.findall(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC", BENCH[:row.start()])
        assert dates, "a Dask figure in bench/README.md without the date of its run"
        runs.append((dates[-1], float(row[1])))
    assert runs, "no Dask grading figures in bench/README.md"
    date, seconds = max(runs)
    return seconds, date


def throughput_minutes(students: int, workers: int) -> float:
    """Minutes to grade ``students`` full-course submissions on ``workers`` Dask workers (one
    core each): an extrapolation from the current seconds per notebook on one worker,
    assuming throughput grows in proportion to workers."""
    seconds, _ = current_seconds_per_notebook()
    notebooks = students * len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))
    return notebooks * seconds / workers / 60


def test_the_guides_throughput_table_is_the_extrapolation_of_the_benchmark():
    guide = GUIDE.read_text()
    section = guide[guide.index("## 10. How long grading a class takes"):]
    assert "extrapolat" in section.lower() and "measured" in section.lower()
    seconds, date = current_seconds_per_notebook()
    assert f"{seconds} s per notebook" in section and date[:10] in section, \
        "the guide does not cite bench/README.md's current figure"
    rows = re.findall(r"^\| ([\d,]+) workers? \| ([\d,.]+) min \| ([\d,.]+) min", section,
                      flags=re.M)
    assert len(rows) >= 4, "no throughput table in docs/instructors.md section 10"
    for workers, small, large in rows:
        for students, minutes in ((300, small), (3000, large)):
            expected = throughput_minutes(students, int(workers.replace(",", "")))
            assert float(minutes.replace(",", "")) == pytest.approx(expected, rel=0.02, abs=1), \
                (workers, students)


# --- the grading cluster (deploy/kubernetes/grading-*.yaml) ------------------------------------

def _grading_cluster() -> dict:
    cluster, = _documents(K8S / "grading-cluster.yaml")
    return cluster


def _plain_cluster() -> dict[str, dict]:
    """The plain manifests by role: scheduler, service, worker."""
    scheduler, service, worker = _documents(K8S / "grading-cluster-plain.yaml")
    return {"scheduler": scheduler, "service": service, "worker": worker}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_plain_grading_cluster_is_valid_kubernetes(version: str):
    plain = _plain_cluster()
    assert [d["kind"] for d in plain.values()] == ["Deployment", "Service", "Deployment"]
    for document in plain.values():
        _validate(document, version)
    policy, = _documents(K8S / "grading-network-policy.yaml")
    _validate(policy, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_operators_cluster_has_valid_pods_and_service(version: str):
    """A DaskCluster is the dask-kubernetes operator's custom resource: kubernetes-validate has
    no schema for it, so what it holds is validated instead (its scheduler's and workers' pod
    specs as Pods, its scheduler's service as a Service), and its own fields are checked by
    name against the operator's resource (kubernetes.dask.org/v1)."""
    cluster = _grading_cluster()
    assert (cluster["apiVersion"], cluster["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")
    assert set(cluster["spec"]) <= {"scheduler", "worker", "idleTimeout"}
    assert set(cluster["spec"]["scheduler"]) == {"spec", "service"}
    assert set(cluster["spec"]["worker"]) <= {"spec", "replicas"}
    name = cluster["metadata"]["name"]
    for role in ("scheduler", "worker"):
        _validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-{role}"},
                   "spec": cluster["spec"][role]["spec"]}, version)
    _validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-scheduler"},
               "spec": cluster["spec"]["scheduler"]["service"]}, version)


def _env(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def test_both_grading_clusters_grade_as_the_grader_needs():
    """Both ways of running the cluster: the same image and resources, workers that can start
    each job's process, a scheduler that runs a lost worker's job again once, a short TMPDIR
    for the kernels' sockets, memory for one capped kernel, and what bubblewrap needs."""
    from course_grading import cluster as grading_cluster
    from course_grading.sandbox import DEFAULT_MEMORY_MB

    operator = _grading_cluster()["spec"]
    plain = _plain_cluster()
    workers = [operator["worker"]["spec"], plain["worker"]["spec"]["template"]["spec"]]
    schedulers = [operator["scheduler"]["spec"], plain["scheduler"]["spec"]["template"]["spec"]]
    image = workers[0]["containers"][0]["image"]
    for spec in workers:
        worker, = spec["containers"]
        assert worker["image"] == image
        assert worker["args"][:2] == ["dask", "worker"] and "--nthreads" in worker["args"]
        assert worker["args"][worker["args"].index("--nthreads") + 1] == "1"
        env = _env(worker)
        assert env["DASK_DISTRIBUTED__WORKER__DAEMON"] == "False"
        assert len(env["TMPDIR"]) <= grading_cluster.MAX_TMPDIR
        assert _quantity(worker["resources"]["requests"]["memory"]) >= \
            (DEFAULT_MEMORY_MB + 512) * 2**20, "a worker must hold one capped kernel and itself"
        assert worker["resources"] == workers[0]["containers"][0]["resources"]
        assert "SYS_ADMIN" in worker["securityContext"]["capabilities"]["add"]
        assert worker["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    for spec in schedulers:
        scheduler, = spec["containers"]
        assert scheduler["image"] == image
        assert _env(scheduler)["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] == "1"
        assert {"containerPort": 8786, "name": "tcp-comm", "protocol": "TCP"} in scheduler["ports"]
    # Both serve the scheduler at the name the guide gives to --scheduler.
    assert plain["service"]["metadata"]["name"] == f"{_grading_cluster()['metadata']['name']}-scheduler"
    assert "tcp://nn-python-grading-scheduler.nn-python:8786" in GUIDE.read_text()


def test_only_the_instructor_and_the_cluster_reach_the_scheduler():
    policy, = _documents(K8S / "grading-network-policy.yaml")
    label = {"dask.org/cluster-name": _grading_cluster()["metadata"]["name"]}
    assert policy["spec"]["podSelector"]["matchLabels"] == label
    allowed = [peer["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"]
               for peer in rule["from"]]
    assert label in allowed
    admins = _values()["hub"]["config"]["Authenticator"]["admin_users"]
    others = [peers for peers in allowed if peers != label]
    assert others and all(peers.get("hub.jupyter.org/username") in admins for peers in others)
    for document in _plain_cluster().values():
        if document["kind"] == "Deployment":
            assert document["spec"]["template"]["metadata"]["labels"].items() >= label.items()


def test_the_grading_image_has_the_sandbox_and_dask():
    dockerfile = (K8S / "grading.Dockerfile").read_text()
    assert "bubblewrap" in dockerfile and "util-linux" in dockerfile  # bwrap and setpriv
    assert "pip install -r requirements-grading.txt" in dockerfile
    assert "solutions" not in dockerfile  # the masters travel with each run, not in the image
    assert re.search(r"^dask\[distributed\]", (ROOT / "requirements-grading.txt").read_text(),
                     flags=re.M)
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M):
        for path in source.split():
            if path != "deploy/kubernetes/data/mnist.npz":
                assert (ROOT / path).exists(), f"the grading image copies {path}, which is missing"
