"""The Kubernetes configuration in deploy/kubernetes/, checked as far as a machine without a
cluster allows (nothing here installs a chart or starts a pod):

- the Helm values, merged with the pinned chart's defaults as Helm merges them, validated
  against that chart's own values schema (tests/data/z2jh/, JSON Schema draft 7), and checked
  for what a schema cannot see: no open login, HTTPS, the exchange through ngshare with no
  shared volume, the instructor's profile given to admins only, who is culled;
- every Kubernetes manifest shipped validated against Kubernetes's own schemas (PyPI
  ``kubernetes-validate``, strict: unknown fields fail), for the versions in VERSIONS;
- the chart's own hub configuration (tests/data/z2jh/hub/) run with those values, and
  KubeSpawner (the chart's version) making a student's and an instructor's pod from it, each
  validated as Kubernetes;
- the images: the students' copies nothing of the masters or the grading side;
- the grading cluster (Dask, in the operator's and in a plain form, with its network policy);
- the grading-throughput table of docs/instructors.md recomputed from bench/README.md.
"""

from __future__ import annotations

import copy
import glob
import os
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml  # PyYAML: installed with JupyterLab (jupyter_events)

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
DATA = Path(__file__).resolve().parent / "data"
BENCH = (ROOT / "bench" / "README.md").read_text()
GUIDE = ROOT / "docs" / "instructors.md"
#: Kubernetes versions the manifests must be valid for (kubernetes-validate's schemas, which
#: it ships: no network). The chart asks for 1.28 or later; 1.30 is the first with the
#: appArmorProfile field the grading pods use.
VERSIONS = ["1.30.0", "1.33.0"]
#: The pinned charts: jupyterhub (Zero to JupyterHub) and ngshare.
CHART_VERSION = "4.4.0"
NGSHARE_CHART_VERSION = "0.6.0"
#: The Helm values files (the rest of deploy/kubernetes/*.yaml are Kubernetes manifests).
HUB_VALUES = ["values.yaml", "values-auth-github.yaml", "values-auth-lti13.yaml"]
NGSHARE_VALUES = "ngshare-values.yaml"
#: How the hub is installed: values.yaml alone (nobody can log in yet), or with one login.
INSTALLS = [("values.yaml",), ("values.yaml", "values-auth-github.yaml"),
            ("values.yaml", "values-auth-lti13.yaml")]


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


def _helm_merge(base: dict, override: dict) -> dict:
    """Helm's merge of a values file over the chart's values: maps merge key by key, a null
    removes the key, anything else (lists included) replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _chart_defaults() -> dict:
    return yaml.safe_load((DATA / "z2jh" / "values.yaml").read_text())


def _without_nulls(tree):
    """Helm drops the keys whose value is null from the values it renders with."""
    if isinstance(tree, dict):
        return {k: _without_nulls(v) for k, v in tree.items() if v is not None}
    return tree


def _installed(*files: str) -> dict:
    """The values the chart renders with: its defaults, then each file in order."""
    values = _chart_defaults()
    for name in files:
        values = _helm_merge(values, yaml.safe_load((K8S / name).read_text()))
    return _without_nulls(values)


def _values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


def _schema_errors(values: dict) -> list[str]:
    import jsonschema

    schema = yaml.safe_load((DATA / "z2jh" / "values.schema.yaml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(values)]


# --- the pinned charts ---------------------------------------------------------------------------

def test_the_chart_version_is_pinned_everywhere_and_the_schema_is_that_versions():
    readme = (DATA / "z2jh" / "README.md").read_text()
    assert "jupyterhub/zero-to-jupyterhub-k8s" in readme
    assert "jupyterhub/values.schema.yaml" in readme and "jupyterhub/values.yaml" in readme
    assert re.search(r"\b[0-9a-f]{40}\b", readme), "the README names no commit"
    assert f"tag {CHART_VERSION}" in readme
    schema = yaml.safe_load((DATA / "z2jh" / "values.schema.yaml").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    guide = GUIDE.read_text()
    assert "helm repo add jupyterhub https://hub.jupyter.org/helm-chart/" in guide
    installs = re.findall(r"helm upgrade [^\n]*?jupyterhub/jupyterhub[^\n]*", guide)
    assert installs, "no helm install of the jupyterhub chart in the guide"
    for command in installs:
        assert f"--version {CHART_VERSION}" in command, f"unpinned: {command}"
    assert f"`jupyterhub` {CHART_VERSION}" in (K8S / "values.yaml").read_text()
    ngshare = re.findall(r"helm upgrade [^\n]*?ngshare/ngshare[^\n]*", guide)
    assert ngshare and all(f"--version {NGSHARE_CHART_VERSION}" in c for c in ngshare)
    assert f"chart {NGSHARE_CHART_VERSION}" in (K8S / NGSHARE_VALUES).read_text()
    assert f"tag v{NGSHARE_CHART_VERSION}" in (DATA / "ngshare" / "README.md").read_text()


@pytest.mark.parametrize("files", INSTALLS, ids="+".join)
def test_the_values_are_valid_for_the_chart(files: tuple[str, ...]):
    errors = _schema_errors(_installed(*files))
    assert not errors, f"{files} fail the chart's schema:\n" + "\n".join(errors)


def test_a_values_mistake_is_caught_by_the_schema():
    """The schema is strict where the chart is (so the test above can fail)."""
    misspelt = _installed("values.yaml")
    misspelt["singleuser"]["memroy"] = {"limit": "2G"}
    assert any("memroy" in error for error in _schema_errors(misspelt))
    wrong_type = _installed("values.yaml")
    wrong_type["hub"]["concurrentSpawnLimit"] = "many"
    assert _schema_errors(wrong_type)


def _keys(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        keys.add(prefix + key)
        if isinstance(value, dict) and value:
            keys |= _keys(value, prefix + key + ".")
    return keys


def test_ngshares_values_are_the_ngshare_charts():
    """The ngshare chart has no schema: every key set must be one of its own values."""
    ours = yaml.safe_load((K8S / NGSHARE_VALUES).read_text())
    theirs = yaml.safe_load((DATA / "ngshare" / "values.yaml").read_text())
    free = ("deployment.resources.",)  # Kubernetes resources, whatever the chart's example
    unknown = {k for k in _keys(ours) - _keys(theirs) if not k.startswith(free)}
    assert not unknown, f"not values of the ngshare chart: {sorted(unknown)}"


# --- no open door --------------------------------------------------------------------------------

#: Logins that let anyone in under a name of their choosing (the chart's default is dummy).
OPEN_AUTHENTICATORS = {
    "dummy", "jupyterhub.auth.DummyAuthenticator", "shared-password",
    "jupyterhub.authenticators.shared.SharedPasswordAuthenticator", "tmp",
    "tmpauthenticator.TmpAuthenticator", "firstuse", "firstuseauthenticator.FirstUseAuthenticator",
}


def open_doors(values: dict) -> list[str]:
    """Why the hub these (merged) values make would let in someone it should not, or let
    logins travel in clear; empty when none."""
    problems = []
    config = values.get("hub", {}).get("config", {})
    authenticator = config.get("JupyterHub", {}).get("authenticator_class")
    if authenticator in OPEN_AUTHENTICATORS:
        problems.append(f"authenticator_class {authenticator!r} lets anyone in")
    for section in ("DummyAuthenticator", "SharedPasswordAuthenticator"):
        if config.get(section):
            problems.append(f"{section} is configured")
    lti = config.get("LTI13Authenticator", {})
    lms_gate = authenticator == "lti13" and all(
        str(lti.get(key, "")).startswith("https://")
        for key in ("issuer", "authorize_url", "jwks_endpoint"))
    for section, settings in config.items():
        if isinstance(settings, dict) and settings.get("allow_all") is True:
            if not (section == "LTI13Authenticator" and lms_gate):
                problems.append(f"{section}.allow_all lets every account of the login in")
    https = values.get("proxy", {}).get("https", {})
    if not https.get("enabled") or not https.get("hosts"):
        problems.append("no HTTPS: passwords and tokens would cross the network in clear")
    elif https.get("type") == "letsencrypt" and not https.get("letsencrypt", {}).get("contactEmail"):
        problems.append("Let's Encrypt without a contact e-mail")
    elif https.get("type") == "secret" and not https.get("secret", {}).get("name"):
        problems.append("HTTPS from a secret that is not named")
    for section, settings in config.items():
        callback = settings.get("oauth_callback_url") if isinstance(settings, dict) else None
        if callback and (urlsplit(callback).scheme != "https"
                         or urlsplit(callback).hostname not in https.get("hosts", [])):
            problems.append(f"{section}.oauth_callback_url is not this hub over HTTPS")
    return problems


@pytest.mark.parametrize("files", INSTALLS, ids="+".join)
def test_no_install_opens_a_door(files: tuple[str, ...]):
    assert open_doors(_installed(*files)) == []


def test_until_a_login_is_configured_nobody_gets_in():
    config = _installed("values.yaml")["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "null"  # no login page, admits nobody
    assert config["Authenticator"]["admin_users"] == []
    assert config["Authenticator"]["allow_all"] is False


def _with(values: dict, path: str, value) -> dict:
    changed = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return changed


@pytest.mark.parametrize("files, path, value", [
    (("values.yaml",), "hub.config.JupyterHub.authenticator_class", "dummy"),
    # values.yaml without its own authenticator falls back to the chart's default, dummy
    (("values.yaml",), "hub.config.JupyterHub.authenticator_class", None),
    (("values.yaml",), "hub.config.JupyterHub.authenticator_class", "shared-password"),
    (("values.yaml",), "hub.config.Authenticator.allow_all", True),
    (("values.yaml",), "hub.config.DummyAuthenticator.password", "class-password"),
    (("values.yaml", "values-auth-github.yaml"), "hub.config.GitHubOAuthenticator.allow_all", True),
    (("values.yaml", "values-auth-github.yaml"), "hub.config.GitHubOAuthenticator.oauth_callback_url",
     "http://hub.example.org/hub/oauth_callback"),
    (("values.yaml", "values-auth-lti13.yaml"), "hub.config.LTI13Authenticator.issuer", None),
    (("values.yaml", "values-auth-lti13.yaml"), "hub.config.JupyterHub.authenticator_class", "dummy"),
    (("values.yaml",), "proxy.https.enabled", False),
    (("values.yaml",), "proxy.https.letsencrypt.contactEmail", None),
])
def test_an_open_door_is_caught(files, path, value):
    """The check above can fail: each of these changes to the last values file (a null
    removes the setting, so the chart's default applies) opens the hub."""
    *first, last = files
    values = _installed(*first)
    edited = _with(yaml.safe_load((K8S / last).read_text()), path, value)
    assert open_doors(_helm_merge(values, edited))


# --- the exchange: ngshare, no shared volume -----------------------------------------------------

def _nbgrader_config(values: dict, user: str = "student01"):
    """/etc/jupyter/nbgrader_config.py of a user's pod, run as nbgrader runs it."""
    from traitlets.config import Config

    config = Config()
    source = values["singleuser"]["extraFiles"]["nbgrader-config"]["stringData"]
    exec(compile(source, "nbgrader_config.py", "exec"), {"get_config": lambda: config})
    return config


def test_the_exchange_is_ngshare_reached_at_its_service(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "student01")  # KubeSpawner sets it in every pod
    monkeypatch.setenv("USER", "jovyan")
    import ngshare_exchange

    values = _installed("values.yaml")
    config = _nbgrader_config(values)
    assert config.CourseDirectory.course_id == "nn_python"
    factory = config.ExchangeFactory
    for name in ("exchange", "fetch_assignment", "fetch_feedback", "release_assignment",
                 "release_feedback", "list", "submit", "collect"):
        assert factory[name].__module__.startswith("ngshare_exchange."), name
    url = urlsplit(ngshare_exchange.Exchange._ngshare_url)
    service = urlsplit(values["hub"]["services"]["ngshare"]["url"])
    # The ngshare chart's service: its release's name ("ngshare") and its port.
    chart = yaml.safe_load((DATA / "ngshare" / "values.yaml").read_text())
    assert (url.hostname, url.port) == (service.hostname, service.port) == \
        ("ngshare", chart["deployment"]["port"])
    assert url.path == "/services/ngshare"


def test_users_pods_can_reach_ngshare_and_nothing_else_is_opened():
    single = _installed("values.yaml")["singleuser"]
    rule, = single["networkPolicy"]["egress"]
    peer, = rule["to"]
    assert peer == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ngshare"}}}
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert single["networkPolicy"]["egressAllowRules"]["privateIPs"] is False


def test_no_shared_volume_for_the_exchange():
    """nbgrader's file exchange trusts Unix ownership, which pods that are all uid 1000 do not
    have: no user pod mounts a volume of anyone else's, and no claim is shared (RWX)."""
    single = _installed("values.yaml")["singleuser"]
    assert not single["storage"].get("extraVolumes")
    assert not single["storage"].get("extraVolumeMounts")
    assert "Exchange.root" not in single["extraFiles"]["nbgrader-config"]["stringData"]
    for path in _manifest_files():
        for document in _documents(path):
            assert document["kind"] != "PersistentVolumeClaim", path.name
            assert "ReadWriteMany" not in yaml.safe_dump(document), path.name


# --- the images ----------------------------------------------------------------------------------

def _copied(dockerfile: str) -> set[str]:
    """Every repository file a Dockerfile's COPY lines put in the image (paths from the root)."""
    files = set()
    for sources in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+\s*$", dockerfile, flags=re.M):
        for source in sources.split():
            if source == "deploy/kubernetes/data/mnist.npz":  # staged by the instructor
                files.add(source)
                continue
            matches = glob.glob(str(ROOT / source))
            assert matches, f"the Dockerfile copies {source}, which is missing"
            for match in map(Path, matches):
                found = [match] if match.is_file() else [p for p in match.rglob("*") if p.is_file()]
                files |= {p.relative_to(ROOT).as_posix() for p in found}
    return files


def _answer_key_in(files: set[str]) -> list[str]:
    """What a student's image must not hold: masters, the grading side, their config."""
    bad = [f for f in files if f.startswith(("solutions/", "grader/"))
           or f == "nbgrader_config.py" or "course_grading" in f]
    for name in files:
        if name.endswith(".ipynb"):
            text = (ROOT / name).read_text()
            if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text:
                bad.append(name)
    return bad


def test_the_students_image_holds_what_learners_need_and_no_answer_key():
    dockerfile = (K8S / "Dockerfile").read_text()
    files = _copied(dockerfile)
    assert _answer_key_in(files) == []
    notebooks = {p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks and notebooks <= files
    assert {"requirements.txt", "pyproject.toml", "course_utils/__init__.py"} <= files
    assert "pip install -r requirements.txt" in dockerfile
    assert "requirements-grading" not in dockerfile
    assert "ngshare_exchange" in dockerfile
    assert re.search(r'"jupyterhub>=5\.5,<6"', dockerfile)  # the hub of chart 4.4.0 is 5.5.0
    assert 'CMD ["jupyterhub-singleuser"]' in dockerfile
    # The learner's package the image installs (requirements.txt's "-e .") is course_utils only
    # (with its stored data, course_utils._data), never the grading side.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert "course_utils" in packages
    assert all(p == "course_utils" or p.startswith("course_utils.") for p in packages), packages


@pytest.mark.parametrize("line", ["COPY . ./", "COPY solutions ./solutions",
                                  "COPY grader/course_grading ./g", "COPY nbgrader_config.py ./",
                                  "COPY sol* ./"])
def test_an_answer_key_copied_into_the_students_image_is_caught(line: str):
    assert _answer_key_in(_copied(line + "\n"))


def test_the_instructors_image_grades_in_the_sandbox():
    dockerfile = (K8S / "instructor.Dockerfile").read_text()
    assert "bubblewrap" in dockerfile and "util-linux" in dockerfile  # bwrap and setpriv
    assert "pip install -r requirements-grading.txt" in dockerfile
    assert "ngshare_exchange" in dockerfile and 'CMD ["jupyterhub-singleuser"]' in dockerfile
    assert '"allow_root": true' in dockerfile  # the pod runs as root (the profile below)
    assert not any(f.startswith("solutions/") for f in _copied(dockerfile))


# --- who gets which pod --------------------------------------------------------------------------

def _profiles(values: dict) -> dict[str, dict]:
    return {profile["slug"]: profile for profile in values["singleuser"]["profileList"]}


def _profiles_for(values: dict, admin: bool) -> list[str]:
    """The slugs hub.extraConfig's profiles-by-role offers a user, run as the chart runs it
    (after c.KubeSpawner.profile_list is set from singleuser.profileList)."""
    from traitlets.config import Config

    c = Config()
    c.KubeSpawner.profile_list = values["singleuser"]["profileList"]
    exec(values["hub"]["extraConfig"]["profiles-by-role"], {"c": c})
    spawner = SimpleNamespace(user=SimpleNamespace(admin=admin, name="someone"))
    return [profile["slug"] for profile in c.KubeSpawner.profile_list(spawner)]


def test_only_instructors_get_the_instructor_profile():
    values = _installed("values.yaml")
    assert set(_profiles(values)) == {"student", "instructor"}
    assert _profiles_for(values, admin=True) == ["instructor"]
    assert _profiles_for(values, admin=False) == ["student"]


def test_students_servers_have_no_formgrader_and_cull_idle_kernels():
    values = _installed("values.yaml")
    c = SimpleNamespace(KubeSpawner=SimpleNamespace())
    exec(values["hub"]["extraConfig"]["students-without-formgrader"], {"c": c})
    for admin, first in ((False, "/etc/jupyter/students"), (True, None)):
        spawner = SimpleNamespace(user=SimpleNamespace(admin=admin),
                                  environment={"JUPYTER_CONFIG_PATH": "/opt/conf"})
        c.KubeSpawner.pre_spawn_hook(spawner)
        paths = spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)
        assert paths == ([first, "/opt/conf"] if first else ["/opt/conf"])
    students = values["singleuser"]["extraFiles"]["students-config"]
    assert students["mountPath"] == "/etc/jupyter/students/jupyter_server_config.json"
    kernels = students["data"]["MappingKernelManager"]
    # An idle kernel goes before its server would: a student's forgotten kernels free memory.
    assert 0 < kernels["cull_idle_timeout"] < values["cull"]["timeout"]
    assert 0 < kernels["cull_interval"] <= kernels["cull_idle_timeout"]
    assert kernels["cull_busy"] is False  # never a kernel mid-training


def test_the_instructor_pod_is_sized_for_grading():
    from course_grading.sandbox import DEFAULT_MEMORY_MB

    values = _installed("values.yaml")
    single, instructor = values["singleuser"], _profiles(values)["instructor"]["kubespawner_override"]
    assert instructor["image"] != f"{single['image']['name']}:{single['image']['tag']}"
    assert instructor["image"].rsplit(":", 1)[0].endswith("/nn-python-instructor")
    jobs = instructor["cpu_guarantee"]  # python -m course_grading --jobs: one per core
    assert jobs >= 4 * single["cpu"]["guarantee"] and instructor["cpu_limit"] >= jobs
    # Each grading kernel capped by the sandbox, plus JupyterLab, the command and a kernel.
    assert _quantity(instructor["mem_guarantee"]) >= (jobs * DEFAULT_MEMORY_MB + 1024) * 2**20
    assert _quantity(instructor["mem_guarantee"]) <= _quantity(instructor["mem_limit"])
    assert _quantity(instructor["storage_capacity"]) > _quantity(single["storage"]["capacity"])
    assert "4 cores" in _profiles(values)["instructor"]["description"]


def test_the_instructor_pod_can_run_the_sandbox_like_the_grading_workers():
    values = _installed("values.yaml")
    context = _profiles(values)["instructor"]["kubespawner_override"]["container_security_context"]
    worker, = _grading_cluster()["spec"]["worker"]["spec"]["containers"]
    for key in ("capabilities", "seccompProfile", "appArmorProfile", "runAsUser"):
        assert context[key] == worker["securityContext"][key], key
    # Kubernetes refuses CAP_SYS_ADMIN with allowPrivilegeEscalation false (the chart's default).
    assert context["allowPrivilegeEscalation"] is True
    assert values["singleuser"]["allowPrivilegeEscalation"] is False  # students keep it


def test_pods_are_labelled_by_role_as_the_network_policies_expect():
    values = _installed("values.yaml")
    students = {"component": "singleuser-server", **values["singleuser"]["extraLabels"]}
    instructor = {"component": "singleuser-server",
                  **_profiles(values)["instructor"]["kubespawner_override"]["extra_labels"]}
    # The chart's own label, which lets a user pod reach the hub, on both.
    assert students["hub.jupyter.org/network-access-hub"] == "true"
    assert instructor["hub.jupyter.org/network-access-hub"] == "true"
    assert (students["nn-python/role"], instructor["nn-python/role"]) == ("student", "instructor")
    grading, egress = _documents(K8S / "grading-network-policy.yaml")
    cluster = {"dask.org/cluster-name": _grading_cluster()["metadata"]["name"]}
    peers = [peer["podSelector"]["matchLabels"] for rule in grading["spec"]["ingress"]
             for peer in rule["from"]]
    assert cluster in peers
    for selector in [p for p in peers if p != cluster] + [egress["spec"]["podSelector"]["matchLabels"]]:
        assert selector.items() <= instructor.items(), selector
        assert not selector.items() <= students.items(), f"students match {selector}"
    target, = egress["spec"]["egress"]
    assert target["to"][0]["podSelector"]["matchLabels"].items() >= cluster.items()
    assert target["ports"] == [{"port": 8786, "protocol": "TCP"}]


# --- culling and the start of a lecture ----------------------------------------------------------

def test_students_are_culled_and_instructors_are_not():
    cull = _installed("values.yaml")["cull"]
    assert cull["enabled"] is True
    assert 0 < cull["timeout"] <= 4 * 3600 and cull["every"] < cull["timeout"]
    assert cull["maxAge"] >= cull["timeout"]  # students' servers: a lecture's day at most
    assert cull["adminUsers"] is False  # --cull-admin-users=false: instructors are admins
    assert cull["users"] is False  # the culler stops servers, it does not delete users


def test_a_lecture_start_is_sized():
    """values.yaml's reasoning: the placeholders are one 64 GB node of students, and the
    hub lets a lecture's arrivals (2 a second) be pending while pods start (30 s) and, past
    the placeholders, while a new node comes up (a minute more of arrivals)."""
    values = _installed("values.yaml")
    placeholders = values["scheduling"]["userPlaceholder"]
    assert placeholders["enabled"] is True
    room = placeholders["replicas"] * _quantity(values["singleuser"]["memory"]["guarantee"])
    assert 0.75 * 64e9 <= room <= 64e9
    arrivals_per_second, pod_start_s, node_wait_s = 2, 30, 60
    assert values["hub"]["concurrentSpawnLimit"] >= arrivals_per_second * (pod_start_s + node_wait_s)
    assert values["hub"]["concurrentSpawnLimit"] >= placeholders["replicas"]
    # The students' image is on every node before anyone asks (the 30 s above assume it).
    assert values["prePuller"]["continuous"]["enabled"] is True
    # A start that waits for a new node (up to 5 minutes) and pulls the image (about 2).
    assert values["singleuser"]["startTimeout"] >= (5 + 2) * 60


def test_memory_is_sized_from_the_benchmark():
    largest = int(re.search(r"largest kernel (\d+) MB", BENCH)[1])
    server_and_two = int(re.search(r"Binder fit: server \+ .*?peak (\d+) MB", BENCH)[1])
    memory = _values()["singleuser"]["memory"]
    assert _quantity(memory["guarantee"]) >= largest * 2**20, "guarantee below one kernel's peak"
    assert _quantity(memory["limit"]) >= server_and_two * 2**20, "limit below two kernels"
    assert _quantity(memory["guarantee"]) <= _quantity(memory["limit"])


# --- Kubernetes manifests ------------------------------------------------------------------------

#: Custom resources kubernetes-validate has no schema for: checked by their own test below.
CUSTOM_KINDS = {("kubernetes.dask.org/v1", "DaskCluster")}


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in {*HUB_VALUES, NGSHARE_VALUES})


def test_every_yaml_file_is_known_values_or_a_manifest():
    for path in K8S.glob("*.yaml"):
        for document in _documents(path):
            if path.name in HUB_VALUES:
                assert set(document) <= {"hub", "proxy", "singleuser", "cull", "scheduling",
                                         "prePuller"}, path.name
            elif path.name == NGSHARE_VALUES:
                assert set(document) <= {"ngshare", "deployment", "pvc"}
            else:
                assert {"apiVersion", "kind", "metadata"} <= set(document), path.name
    assert {p.name for p in _manifest_files()} == {
        "grading-cluster.yaml", "grading-cluster-plain.yaml", "grading-network-policy.yaml"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str):
    for path in _manifest_files():
        for document in _documents(path):
            if (document["apiVersion"], document["kind"]) not in CUSTOM_KINDS:
                _validate(document, version)


def test_a_schema_violation_is_caught():
    """The validator is strict: a misspelt field fails (so the tests above can fail)."""
    import kubernetes_validate

    policy = _documents(K8S / "grading-network-policy.yaml")[0]
    policy["spec"]["podSelectr"] = policy["spec"].pop("podSelector")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, VERSIONS[-1], strict=True)


def test_the_guide_names_every_placeholder_to_edit():
    """Every example.org host and <...> placeholder shipped is one the guide says to edit."""
    section = _guide_section_8()
    for path in K8S.glob("*"):
        if path.is_file() and path.suffix in {".yaml", ".Dockerfile", ""}:
            text = path.read_text()
            for host in set(re.findall(r"[\w.-]+\.example\.org", text)):
                assert host in section, f"{path.name}: the guide does not say to edit {host}"
            if re.search(r'"<[^">]+>', text):
                assert path.name in section, f"{path.name} has <...> to fill in"


def _guide_section_8() -> str:
    guide = GUIDE.read_text()
    return guide[guide.index("## 8. "):guide.index("## 9. ")]


def test_the_guide_is_a_runnable_sequence_and_says_what_is_validated():
    section = _guide_section_8()
    steps = [
        "helm repo add jupyterhub https://hub.jupyter.org/helm-chart/",
        "helm repo add ngshare https://libretexts.github.io/ngshare-helm-repo/",
        "docker build -f deploy/kubernetes/Dockerfile",
        "docker build -f deploy/kubernetes/instructor.Dockerfile",
        "docker push",
        "kubectl create namespace nn-python",
        "helm upgrade --install ngshare ngshare/ngshare",
        "helm upgrade --install nn-python jupyterhub/jupyterhub",
        "ngshare-course-management create_course nn_python",
        # The images hold no masters and no deploy/: sections 3 to 6 copy from $NN_PYTHON,
        # the instructor's clone of the private course.
        "git clone ",
        "export NN_PYTHON=~/",
    ]
    positions = [section.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions) if p < 0]
    assert positions == sorted(positions), "the guide's steps are out of order"
    assert "REGISTRY" in section and "tests/test_deploy.py" in section
    assert "not validated" in section.lower() or "nothing here deploys" in section.lower()
    for name in ("values-auth-github.yaml", "values-auth-lti13.yaml", NGSHARE_VALUES):
        assert name in section


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


def test_the_guides_secrets_files_are_values_the_charts_take(tmp_path):
    """Step 4's commands, run as written (with made-up secrets), write values files that
    Helm merges into valid values for each chart: the token where each chart reads it."""
    import subprocess

    section = _guide_section_8()
    commands = re.findall(r"^ *(printf .*?(?:\\\n.*?)*> ~/\S+)$", section, flags=re.M)
    assert len(commands) == 2, commands
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "NGSHARE_TOKEN": "t0ken",
           "GITHUB_CLIENT_ID": "client-id", "GITHUB_CLIENT_SECRET": "client-secret"}
    subprocess.run(["bash", "-euc", "\n".join(commands)], env=env, check=True)
    hub = yaml.safe_load((tmp_path / "nn-python-secrets.yaml").read_text())
    values = _helm_merge(_installed("values.yaml", "values-auth-github.yaml"), hub)
    assert _schema_errors(values) == [] and open_doors(values) == []
    assert values["hub"]["services"]["ngshare"]["apiToken"] == "t0ken"
    assert values["hub"]["config"]["GitHubOAuthenticator"]["client_secret"] == "client-secret"
    ngshare = yaml.safe_load((tmp_path / "nn-python-ngshare-secrets.yaml").read_text())
    assert ngshare == {"ngshare": {"hub_api_token": "t0ken"}}
    chart = yaml.safe_load((DATA / "ngshare" / "values.yaml").read_text())
    assert "hub_api_token" in chart["ngshare"]


# --- the chart's own hub configuration and KubeSpawner, run -------------------------------------

def _hub_config(values: dict, monkeypatch) -> "Config":
    """The traitlets config the hub starts with: the chart's jupyterhub_config.py (4.4.0,
    tests/data/z2jh/hub/) run with these values as the chart's Secret would give them, its
    Kubernetes names and secrets stubbed (nothing here reaches a cluster)."""
    import importlib.util
    import sys

    from tornado.httpclient import AsyncHTTPClient
    from traitlets.config import Config

    hub = DATA / "z2jh" / "hub"
    spec = importlib.util.spec_from_file_location("z2jh", hub / "z2jh.py")
    z2jh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(z2jh)
    rendered = {**values, "Chart": {"Name": "jupyterhub", "Version": CHART_VERSION},
                "Release": {"Name": "nn-python", "Namespace": "nn-python"}}
    tokens = {"hub.config.JupyterHub.cookie_secret": "ab" * 32,
              "hub.config.CryptKeeper.keys": "cd" * 32}

    def secret(key, default="never-explicitly-set"):
        if key.startswith("hub.services."):
            return "service-token"
        if key in tokens:
            return tokens[key]
        assert default != "never-explicitly-set", key
        return default

    monkeypatch.setattr(z2jh, "_load_config", lambda: rendered)
    monkeypatch.setattr(z2jh, "_get_config_value", lambda name: name)  # fullnames
    monkeypatch.setattr(z2jh, "get_secret_value", secret)
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    monkeypatch.setattr(AsyncHTTPClient, "configure", classmethod(lambda *args, **kwargs: None))
    for name, value in (("PROXY_API_SERVICE_PORT", "8001"), ("HUB_SERVICE_PORT", "8081"),
                        ("POD_NAMESPACE", "nn-python")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    config = Config()
    path = hub / "jupyterhub_config.py"
    exec(compile(path.read_text(), str(path), "exec"),
         {"get_config": lambda: config, "__file__": str(path), "__name__": "jupyterhub_config"})
    return config


@pytest.mark.parametrize("files", INSTALLS, ids="+".join)
def test_the_charts_hub_configuration_takes_the_values(files, monkeypatch):
    values = _installed(*files)
    c = _hub_config(values, monkeypatch)
    own = values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    assert c.JupyterHub.authenticator_class == own
    assert c.JupyterHub.concurrent_spawn_limit == values["hub"]["concurrentSpawnLimit"]
    services = {service["name"]: service for service in c.JupyterHub.services}
    assert services["ngshare"]["url"] == "http://ngshare:8080"
    assert services["ngshare"]["api_token"] == "service-token"
    culler = services["jupyterhub-idle-culler"]["command"]
    assert "--cull-admin-users=false" in culler
    assert f"--max-age={values['cull']['maxAge']}" in culler
    assert f"--timeout={values['cull']['timeout']}" in culler
    assert callable(c.KubeSpawner.profile_list)  # hub.extraConfig ran after the chart's own


def _spawn(c, admin: bool, profile: str | None = None) -> dict:
    """The pod KubeSpawner (the chart's version) makes for a user, as a manifest."""
    import asyncio

    import kubespawner.spawner
    from kubernetes_asyncio.client import ApiClient

    user = SimpleNamespace(name="teacher" if admin else "student01", admin=admin, id=1,
                           url="/user/x/", escaped_name="x")

    async def make() -> dict:
        spawner = kubespawner.spawner.KubeSpawner(config=c, _mock=True, user=user)
        if profile:
            spawner.user_options = {"profile": profile}
        await spawner.load_user_options()
        spawner.pre_spawn_hook(spawner)
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as api:  # only to turn the model into a manifest
            return api.sanitize_for_serialization(pod)

    return asyncio.run(make())


@pytest.fixture
def hub_config(monkeypatch):
    import kubespawner.spawner

    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **kwargs: None)
    monkeypatch.setattr(kubespawner.spawner, "shared_client", lambda *args, **kwargs: None)
    return _hub_config(_installed("values.yaml", "values-auth-github.yaml"), monkeypatch)


def test_kubespawner_makes_valid_pods_for_each_role(hub_config):
    values = _installed("values.yaml")
    student, instructor = _spawn(hub_config, admin=False), _spawn(hub_config, admin=True)
    for pod in (student, instructor):
        for version in VERSIONS:
            _validate(pod, version)
    (s,), (i,) = student["spec"]["containers"], instructor["spec"]["containers"]
    assert student["metadata"]["labels"]["nn-python/role"] == "student"
    assert instructor["metadata"]["labels"]["nn-python/role"] == "instructor"
    assert s["image"] == "registry.example.org/nn-python:1.0.0"
    assert i["image"] == _profiles(values)["instructor"]["kubespawner_override"]["image"]
    assert s["securityContext"] == {"runAsUser": 1000, "allowPrivilegeEscalation": False}
    assert "SYS_ADMIN" in i["securityContext"]["capabilities"]["add"]
    assert i["resources"]["requests"]["cpu"] == 4 and s["resources"]["requests"]["cpu"] == 0.25
    env = {item["name"]: item.get("value") for item in s["env"]}
    assert env["JUPYTER_CONFIG_PATH"].startswith("/etc/jupyter/students")  # no formgrader
    assert not any(item["name"] == "JUPYTER_CONFIG_PATH" for item in i["env"])
    mounts = {m["mountPath"] for m in s["volumeMounts"]}
    assert {"/etc/jupyter/nbgrader_config.py",
            "/etc/jupyter/students/jupyter_server_config.json"} <= mounts


def test_a_student_cannot_ask_for_the_instructors_pod(hub_config):
    with pytest.raises(ValueError, match="No such profile: instructor"):
        _spawn(hub_config, admin=False, profile="instructor")
    assert _spawn(hub_config, admin=True, profile="instructor")["metadata"]["labels"][
        "nn-python/role"] == "instructor"
