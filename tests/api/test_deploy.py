"""The deployment files (issue 18) checked against the daemon they deploy, so that they cannot
drift from it: docker/compose.cluster.yaml with docker/haproxy.cfg, and the Kubernetes
manifests of deploy/kubernetes/. Every NEUROND_* variable and flag they use must be one that
`neurond serve --help` lists; every port must be the one the image's daemon listens on
(docker/Dockerfile's NEUROND_PORT, else the daemon's default); every health-check path is
fetched from a real daemon started with the files' own settings and must answer 200 without
a key. No cluster, no Docker, no Kubernetes needed: the files are parsed with PyYAML."""
import glob
import os
import re
import subprocess
from urllib.parse import urlparse

import pytest
import requests
import yaml

from conftest import NEUROND, ROOT

COMPOSE = os.path.join(ROOT, "docker", "compose.cluster.yaml")
HAPROXY = os.path.join(ROOT, "docker", "haproxy.cfg")
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
KUBE = os.path.join(ROOT, "deploy", "kubernetes")
KEY = "deploy-test-key"
# libpq's own variables may sit beside the daemon's (the store's password, say)
LIBPQ_VARS = {"PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT"}


def _help(*cmd):
    p = subprocess.run([NEUROND] + list(cmd) + ["--help"], capture_output=True, text=True, timeout=10)
    return p.stdout + p.stderr


@pytest.fixture(scope="module")
def serve_help():
    """{flag: (variable, default)} from `neurond serve --help`."""
    flags = {}
    for m in re.finditer(r"^  (--[a-z0-9-]+)\s+(NEUROND_[A-Z0-9_]+)\s+default: (\S+)", _help("serve"), re.M):
        flags[m.group(1)] = (m.group(2), m.group(3))
    assert "--port" in flags and "--store" in flags, "cannot read `neurond serve --help`"
    return flags


@pytest.fixture(scope="module")
def image_port(serve_help):
    """The port the image's daemon listens on: the Dockerfile's NEUROND_PORT, else the default."""
    with open(DOCKERFILE) as f:
        m = re.search(r"\bNEUROND_PORT=(\d+)", f.read())
    port = int(m.group(1)) if m else int(serve_help["--port"][1])
    with open(DOCKERFILE) as f:
        assert re.search(r"^EXPOSE %d\b" % port, f.read(), re.M), "the Dockerfile exposes another port"
    return port


def expand(value):
    """Compose's ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR}: the default, or a
    placeholder for a value that must be given."""
    def sub(m):
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if op in (":-", "-"):
            return arg
        return "given-" + name.lower()
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", sub, str(value))


def overridable(image):
    return re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:-[^}]+\}", str(image)) is not None


def check_vars(names, serve_help, where):
    known = {v for v, _ in serve_help.values()}
    for name in names:
        assert name in known or name in LIBPQ_VARS, \
            "%s uses %s, which `neurond serve --help` does not list" % (where, name)


def check_args(args, serve_help, where):
    """serve's flags in a command line: each must be a flag of `neurond serve --help`."""
    args = [str(a) for a in args or []]
    if not args:
        return
    assert args[0] == "serve", "%s runs `neurond %s`, not serve" % (where, args[0])
    for a in args[1:]:
        if a.startswith("--"):
            assert a.split("=", 1)[0] in serve_help, "%s: unknown flag %s" % (where, a)


def health_probe(argv, where):
    """A `neurond health --url URL` health check: returns its URL's (port, path)."""
    argv = [str(a) for a in argv]
    if argv and argv[0] in ("CMD", "CMD-SHELL"):
        argv = argv[1:]
    assert os.path.basename(argv[0]) == "neurond" and argv[1] == "health", \
        "%s: the health check is not `neurond health` (the image has no shell or curl): %s" % (where, argv)
    health_help = _help("health")
    for a in argv[2:]:
        if a.startswith("--"):
            flag = re.compile(r"(^|[\s\[])%s\b(?!-)" % re.escape(a))
            assert flag.search(health_help), "%s: `neurond health` has no flag %s" % (where, a)
    url = urlparse(argv[argv.index("--url") + 1]) if "--url" in argv else None
    assert url is not None, "%s: name the probe's path with --url" % where
    return url.port, url.path or "/healthz"


# ----- docker/compose.cluster.yaml and docker/haproxy.cfg -----

@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE) as f:
        return yaml.safe_load(f)


def replicas_of(compose):
    """The services that run the project's image (built from docker/Dockerfile)."""
    return {name: s for name, s in compose["services"].items()
            if (s.get("build") or {}).get("dockerfile") == "docker/Dockerfile"}


def compose_paths(compose, image_port):
    paths = []
    for name, s in replicas_of(compose).items():
        port, path = health_probe(s["healthcheck"]["test"], "compose service " + name)
        assert port == image_port, "compose service %s checks port %s, the daemon listens on %d" % (
            name, port, image_port)
        paths.append(path)
    return paths


def haproxy_cfg():
    with open(HAPROXY) as f:
        return [line.split("#", 1)[0].split() for line in f if line.split("#", 1)[0].strip()]


def test_compose_cluster_replicas_use_only_the_daemons_variables(compose, serve_help, image_port):
    services = compose["services"]
    reps = replicas_of(compose)
    assert len(reps) >= 3, "three replicas of the image, found %s" % sorted(reps)
    pg = {n: s for n, s in services.items() if "POSTGRES_DB" in (s.get("environment") or {})}
    assert len(pg) == 1, "one PostgreSQL service"
    (pg_name, pg_svc), = pg.items()
    assert overridable(pg_svc["image"]), "the PostgreSQL image must be a ${VAR:-default}: %s" % pg_svc["image"]
    for name, s in services.items():
        assert overridable(s["image"]), "service %s: the image must be a ${VAR:-default}" % name
    images = {s["image"] for s in reps.values()}
    assert len(images) == 1, "the replicas run different images: %s" % images
    for name, s in reps.items():
        env = s["environment"]
        check_vars(env, serve_help, "compose service " + name)
        check_args(s.get("command"), serve_help, "compose service " + name)
        assert "${NEUROND_API_KEY" in env["NEUROND_API_KEY"], "%s: the key comes from the environment" % name
        store = urlparse(expand(env["NEUROND_STORE"]))
        assert store.scheme == "postgresql", "%s: NEUROND_STORE is not PostgreSQL" % name
        assert store.hostname == pg_name and (store.port or 5432) == 5432, name
        assert store.username == pg_svc["environment"]["POSTGRES_USER"], name
        assert store.path.lstrip("/") == pg_svc["environment"]["POSTGRES_DB"], name
        if "NEUROND_PORT" in env:
            assert int(expand(env["NEUROND_PORT"])) == image_port
        assert s.get("depends_on", {}).get(pg_name, {}).get("condition") == "service_healthy", name
    assert compose_paths(compose, image_port)  # fetched from a real daemon below


def test_haproxy_balances_the_replicas_on_their_port_and_health_path(compose, image_port):
    reps = replicas_of(compose)
    lines = haproxy_cfg()
    servers = {l[2].rsplit(":", 1)[0]: int(l[2].rsplit(":", 1)[1]) for l in lines if l[0] == "server"}
    assert set(servers) == set(reps), "haproxy's servers %s are not the replicas %s" % (
        sorted(servers), sorted(reps))
    for host, port in servers.items():
        assert port == image_port, "haproxy sends %s to port %d, the daemon listens on %d" % (
            host, port, image_port)
    checks = [l for l in lines if l[:2] == ["option", "httpchk"]]
    assert len(checks) == 1 and checks[0][2] == "GET", checks
    assert any(l[0] == "default-server" and "check" in l for l in lines), "haproxy does not check the replicas"
    # the load balancer publishes the port haproxy binds
    lb = [s for s in compose["services"].values() if any("haproxy.cfg" in v for v in s.get("volumes", []))]
    assert len(lb) == 1
    bind = [l for l in lines if l[0] == "bind"]
    assert len(bind) == 1
    bound = int(bind[0][1].rsplit(":", 1)[1])
    assert all(int(expand(p).rsplit(":", 1)[1]) == bound for p in lb[0]["ports"]), lb[0]["ports"]


# ----- deploy/kubernetes -----

@pytest.fixture(scope="module")
def kube():
    docs = {}
    for path in sorted(glob.glob(os.path.join(KUBE, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs.setdefault(doc["kind"], []).append(doc)
    for kind in ("Deployment", "Service", "Secret", "HorizontalPodAutoscaler"):
        n = len(docs.get(kind, []))
        assert n == 1, "deploy/kubernetes: one %s, found %d" % (kind, n)
    return {k: v[0] for k, v in docs.items()}


def container_of(kube):
    cs = kube["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1
    return cs[0]


def literal_env(container):
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def resolve_port(container, port):
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    assert port in named, "no container port named %s" % port
    return named[port]


def test_kubernetes_deployment_uses_the_daemons_variables_port_and_secret(kube, serve_help, image_port):
    dep, secret = kube["Deployment"], kube["Secret"]
    assert dep["spec"]["replicas"] >= 2
    c = container_of(kube)
    check_vars([e["name"] for e in c.get("env", [])], serve_help, "the Deployment")
    check_args(c.get("args"), serve_help, "the Deployment")
    env = literal_env(c)
    port = int(env.get("NEUROND_PORT", image_port))
    assert [p["containerPort"] for p in c["ports"]] == [port], "the container port is not the daemon's %d" % port
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    assert set(from_secret) >= {"NEUROND_API_KEY", "NEUROND_STORE"}, \
        "the key and the store URL come from the Secret"
    data = dict(secret.get("stringData") or {}, **(secret.get("data") or {}))
    for name, ref in from_secret.items():
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in data, \
            "%s: %s not in the Secret" % (name, ref)
    store = urlparse(secret["stringData"][from_secret["NEUROND_STORE"]["key"]])
    assert store.scheme == "postgresql" and store.hostname and store.path.lstrip("/"), store
    assert "CHANGE-ME" in secret["stringData"][from_secret["NEUROND_API_KEY"]["key"]], "a template, no real key"
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert resolve_port(c, get["port"]) == port, "%s on another port than the daemon's" % probe
    # the pod writes its spool under NEUROND_DB's folder: it must be a mounted volume
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    assert os.path.dirname(env.get("NEUROND_DB", serve_help["--db"][1])) in mounts


def test_kubernetes_service_and_autoscaler_point_at_the_deployment(kube):
    dep, svc, hpa = kube["Deployment"], kube["Service"], kube["HorizontalPodAutoscaler"]
    c = container_of(kube)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items(), "the Service selects no pod of the Deployment"
    for p in svc["spec"]["ports"]:
        assert resolve_port(c, p["targetPort"]) == c["ports"][0]["containerPort"]
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", dep["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= dep["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "Resource":  # utilisation is measured against the container's request
            assert m["resource"]["name"] in c["resources"]["requests"], m


# ----- the probe paths, on a real daemon started with the files' settings -----

def test_every_health_check_answers_200_on_a_real_daemon(make_daemon, compose, kube, serve_help, image_port):
    c = container_of(kube)
    kube_env = literal_env(c)
    rep = next(iter(replicas_of(compose).values()))
    compose_env = {k: expand(v) for k, v in rep["environment"].items()}
    # the store (PostgreSQL) is test_cluster's; here the default store, a key, loopback
    probes = []  # (where, path, expected: liveness/readiness)
    for probe in ("livenessProbe", "readinessProbe"):
        probes.append(("Kubernetes " + probe, c[probe]["httpGet"]["path"]))
    for path in compose_paths(compose, image_port):
        probes.append(("compose healthcheck", path))
    probes += [("haproxy httpchk", l[3]) for l in haproxy_cfg() if l[:2] == ["option", "httpchk"]]
    assert probes
    for where, env in (("Kubernetes", kube_env), ("compose", compose_env)):
        env = {k: v for k, v in env.items() if k not in ("NEUROND_STORE", "NEUROND_PORT", "NEUROND_DB")}
        env["NEUROND_API_KEY"] = KEY
        d = make_daemon(["--bind", "127.0.0.1"], env=env)
        for name, path in probes:
            r = requests.get(d.url(path), timeout=5)  # probes send no key
            assert r.status_code == 200, "%s GET %s on a daemon with the %s settings: %d %s" % (
                name, path, where, r.status_code, r.text[:200])
        # the compose health check is a command: run it as is, on this daemon's port
        for s in replicas_of(compose).values():
            argv = [str(a) for a in s["healthcheck"]["test"][1:]]
            argv[0] = NEUROND
            i = argv.index("--url") + 1
            argv[i] = argv[i].replace(":%d/" % image_port, ":%d/" % d.port)
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            assert p.returncode == 0, "%s: exit %d %s" % (argv, p.returncode, p.stdout + p.stderr)
            break
    # and a wrong path would not pass: the check means something
    assert requests.get(d.url("/livez-not-a-path"), timeout=5).status_code != 200
