"""Static checks of what ships for deployment: shellcheck on every shell script the project
runs, docker/compose.yaml (and its Redis variant) parsed and checked for the socket path, the
shared volumes and IPC matching the Django example's settings, the Kubernetes example, the
Dockerfile's shape and the runtime package list it installs."""

import glob
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import BUILD, DOCKER, L2_BIN, REPO, SIDECAR_BIN
from test_config_docs import help_options

ENTRYPOINT_VARS = {"TIERCACHE_CONFIG", "TIERCACHE_BIN_DIR", "TIERCACHE_STATE_DIR",
                   "TIERCACHE_HEALTH_TIMEOUT"}
SIZE = re.compile(r"^(\d+)\s*([kmg]?)(i?b?)$", re.I)


def to_bytes(text):
    m = SIZE.match(str(text).strip())
    assert m, "not a size: %r" % text
    unit = m.group(2).lower()
    base = 1024 if m.group(3) or not unit else 1000
    if unit and m.group(3).lower() in ("b", "ib"):
        base = 1024
    return int(m.group(1)) * {"": 1, "k": base, "m": base ** 2, "g": base ** 3}[unit]


def env_names_ok(env, binary):
    """Every TIERCACHE_* variable is an option of `binary` (or an entrypoint variable)."""
    options = {"TIERCACHE_" + n.upper().replace("-", "_") for n in help_options(binary)}
    for name in env:
        if not name.startswith("TIERCACHE_") or name in ENTRYPOINT_VARS:
            continue
        base = name[:-5] if name.endswith("_FILE") else name
        assert base in options, "%s is not an option of %s" % (name, os.path.basename(binary))


def django_default_location():
    text = open(os.path.join(REPO, "examples", "django", "tcshop", "settings.py")).read()
    m = re.search(r'"TCSHOP_CACHE_LOCATION",\s*"([^"]+)"', text)
    assert m, "examples/django/tcshop/settings.py no longer reads TCSHOP_CACHE_LOCATION"
    return m.group(1)


def socket_of(location):
    m = re.fullmatch(r"unix://(/[^?]+)(\?.*)?", location)
    assert m, "cache LOCATION %r is not a unix socket URL" % location
    return m.group(1)


# --------------------------------------------------------------------------- shellcheck

def test_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (scripts/deps.sh installs it)")
    scripts = sorted(glob.glob(os.path.join(REPO, "scripts", "*.sh")) +
                     glob.glob(os.path.join(REPO, "scripts", "lib", "*.sh")) +
                     glob.glob(os.path.join(DOCKER, "*.sh")) +
                     glob.glob(os.path.join(REPO, "tests", "**", "*.sh"), recursive=True) +
                     [os.path.join(REPO, ".ci", "run")])
    r = subprocess.run(["shellcheck", "--format=gcc"] + scripts, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------- compose

def load_compose(*names):
    merged = {}
    for name in names:
        doc = yaml.safe_load(open(os.path.join(DOCKER, name)))
        for svc, spec in doc.get("services", {}).items():
            merged.setdefault("services", {}).setdefault(svc, {}).update(spec)
        for key in ("volumes", "name"):
            if key in doc:
                merged[key] = doc[key]
    return merged


def mounts(service):
    out = {}
    for v in service.get("volumes", []):
        src, dst = v.split(":")[:2]
        out[dst] = src
    return out


def test_compose_socket_volume_and_ipc_match_django_settings():
    compose = load_compose("compose.yaml")
    services = compose["services"]
    default_socket = socket_of(django_default_location())
    apps = {n: s for n, s in services.items() if re.fullmatch(r"app-\w+", n)}
    assert len(apps) >= 2, "compose.yaml must have two app hosts"
    sidecars_seen, shm_names = set(), set()
    l2_port = int(services["l2"]["environment"]["TIERCACHE_PORT"])
    for name, app in apps.items():
        env = app["environment"]
        location = env["TCSHOP_CACHE_LOCATION"]
        sock = socket_of(location)
        assert sock == default_socket, "%s: socket %s differs from the Django default %s" % (
            name, sock, default_socket)
        ipc = app.get("ipc", "")
        assert ipc.startswith("service:"), "%s must share its sidecar's IPC namespace" % name
        sc_name = ipc.split(":", 1)[1]
        sidecar = services[sc_name]
        assert sidecar.get("command") == ["sidecar"]
        assert sidecar.get("ipc") == "shareable", sc_name
        sc_env = sidecar["environment"]
        assert sc_env["TIERCACHE_SOCKET"] == sock, "%s and %s disagree on the socket" % (
            name, sc_name)
        sock_dir = os.path.dirname(sock)
        app_vol, sc_vol = mounts(app).get(sock_dir), mounts(sidecar).get(sock_dir)
        assert app_vol and app_vol == sc_vol, \
            "%s and %s must mount one volume at %s" % (name, sc_name, sock_dir)
        assert app_vol in compose["volumes"], "%s is not a named volume" % app_vol
        assert to_bytes(sidecar["shm_size"]) > to_bytes(sc_env["TIERCACHE_L1_MEMORY"]), \
            "%s: shm_size must hold the L1 segment" % sc_name
        host, port = sc_env["TIERCACHE_L2"].rsplit(":", 1)
        assert host == "l2" and int(port) == l2_port
        assert sc_env["TIERCACHE_SOCKET_MODE"] in ("0660", "0666")
        env_names_ok(sc_env, SIDECAR_BIN)
        assert "healthcheck.sh" in " ".join(sidecar["healthcheck"]["test"])
        assert app["depends_on"][sc_name]["condition"] == "service_healthy"
        sidecars_seen.add(sc_name)
        shm_names.add(sc_env["TIERCACHE_SHM_NAME"])
    assert len(sidecars_seen) == len(apps), "each app host needs its own sidecar"
    assert len(shm_names) == len(apps), "each sidecar needs its own shm-name"
    assert len({mounts(a)[os.path.dirname(default_socket)] for a in apps.values()}) == len(apps)
    env_names_ok(services["l2"]["environment"], L2_BIN)
    assert services["l2"]["environment"]["TIERCACHE_BIND"] == "0.0.0.0"


def test_compose_redis_variant():
    compose = load_compose("compose.yaml", "compose.redis.yaml")
    l2 = compose["services"]["l2"]
    assert l2["image"].startswith("redis:7")
    cmd = l2["command"]
    assert cmd[cmd.index("--port") + 1] == compose["services"]["sidecar-a"]["environment"][
        "TIERCACHE_L2"].rsplit(":", 1)[1]


def test_prometheus_config_scrapes_compose_services():
    compose = load_compose("compose.yaml")["services"]
    prom = yaml.safe_load(open(os.path.join(DOCKER, "prometheus", "prometheus.yml")))
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    for name, svc in compose.items():
        port = svc.get("environment", {}).get("TIERCACHE_METRICS_PORT")
        if port:
            assert svc["environment"]["TIERCACHE_METRICS_BIND"] == "0.0.0.0", name
            assert "%s:%s" % (name, port) in targets, name


# --------------------------------------------------------------------------- kubernetes

def k8s_objects():
    objs = []
    for path in sorted(glob.glob(os.path.join(DOCKER, "k8s", "*.yaml"))):
        objs += [o for o in yaml.safe_load_all(open(path)) if o]
    return objs


def test_k8s_pod_shares_socket_and_shm_with_probes_and_limits():
    objs = k8s_objects()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert ("Service", "tiercache-l2") in kinds and ("StatefulSet", "tiercache-l2") in kinds
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] ==
               "tiercache-l2")
    resp_port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "resp")
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    assert deployments
    default_socket = socket_of(django_default_location())
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        containers = {c["name"]: c for c in pod["containers"]}
        sidecar = containers["tiercache-sidecar"]
        assert sidecar["args"] == ["sidecar"]
        env = {e["name"]: e.get("value") for e in sidecar["env"]}
        env_names_ok(env, SIDECAR_BIN)
        sock = env["TIERCACHE_SOCKET"]
        assert sock == default_socket
        sc_mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
        sock_vol = sc_mounts[os.path.dirname(sock)]
        assert volumes[sock_vol]["emptyDir"]["medium"] == "Memory"
        shm_vol = sc_mounts["/dev/shm"]
        assert volumes[shm_vol]["emptyDir"]["medium"] == "Memory"
        assert to_bytes(volumes[shm_vol]["emptyDir"]["sizeLimit"]) > \
            to_bytes(env["TIERCACHE_L1_MEMORY"])
        host, port = env["TIERCACHE_L2"].rsplit(":", 1)
        assert host == "tiercache-l2" and int(port) == resp_port
        apps = [c for n, c in containers.items() if n != "tiercache-sidecar"]
        assert apps, "the pod needs the application container"
        for app in apps:
            app_mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
            assert app_mounts.get(os.path.dirname(sock)) == sock_vol
            app_env = {e["name"]: e.get("value") for e in app.get("env", [])}
            assert socket_of(app_env["TCSHOP_CACHE_LOCATION"]) == sock
        for c in pod["containers"]:
            assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"], c["name"]
            assert "readinessProbe" in c and "livenessProbe" in c, c["name"]
        assert to_bytes(sidecar["resources"]["limits"]["memory"].replace("Mi", "MiB")
                        .replace("Gi", "GiB")) > to_bytes(env["TIERCACHE_L1_MEMORY"])
    for sts in (o for o in objs if o["kind"] == "StatefulSet"):
        for c in sts["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in c["env"]}
            env_names_ok(env, L2_BIN)
            assert c["args"] == ["l2"] and env["TIERCACHE_BIND"] == "0.0.0.0"
            assert c["resources"]["limits"]["memory"]
            assert "readinessProbe" in c and "livenessProbe" in c


# --------------------------------------------------------------------------- Dockerfile

def test_dockerfile_shape():
    text = open(os.path.join(DOCKER, "Dockerfile")).read()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert [s[0] for s in stages] == ["debian:bookworm", "debian:bookworm-slim"]
    build, runtime = text.split("FROM debian:bookworm-slim")
    assert "scripts/deps.sh --build" in build and "scripts/build.sh" in build
    assert "docker/runtime-packages.sh" in build
    # CI runs the same recipe first (build packages only, build, unit tests), so a build
    # package missing from `deps.sh --build` fails CI, not only a docker build
    steps = open(os.path.join(REPO, "scripts", "test.sh")).read()
    first_build = steps.index("scripts/build.sh")
    assert steps.index("scripts/deps.sh --build") < first_build
    assert "scripts/deps.sh\n" not in steps[:first_build]
    assert "build-essential" not in runtime and "scripts/deps.sh" not in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert user and not user[-1].startswith(("root", "0")), "runtime must not run as root"
    assert re.search(r"^HEALTHCHECK .*\n?.*healthcheck\.sh", runtime, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/entrypoint.sh"\]', runtime, re.M)
    for src in re.findall(r"^COPY (docker/\S+)", text, re.M):
        assert os.path.exists(os.path.join(REPO, src)), src


def test_app_dockerfile_ships_the_django_backend():
    """The shop's default cache backend is tiercache.django_cache.TierCache: the app image
    builds the package with CI's scripts and installs it where Debian's python3 looks."""
    text = open(os.path.join(DOCKER, "app.Dockerfile")).read()
    build, runtime = text.split("FROM debian:bookworm-slim")
    assert "scripts/deps.sh --build" in build and "scripts/build.sh" in build
    assert "build/python/tiercache" in build
    assert re.search(r"^COPY --from=build \S+ /usr/lib/python3/dist-packages/tiercache$",
                     runtime, re.M)
    assert "python3-django-redis" in runtime and "scripts/" not in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    # what the package directory holds after the build, as the image copies it
    pkg = os.path.join(BUILD, "python", "tiercache")
    names = os.listdir(pkg)
    assert "django_cache.py" in names and "__init__.py" in names
    assert any(n.startswith("_l1.") and n.endswith(".so") for n in names), names


def runtime_packages(*binaries):
    r = subprocess.run([os.path.join(DOCKER, "runtime-packages.sh"), *binaries],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pkgs = r.stdout.split()
    assert "libc6" in pkgs and not any(p.endswith("-dev") for p in pkgs), pkgs
    return pkgs


def test_runtime_packages_cover_the_binaries():
    """The image's runtime stage installs what the script prints: every shared library the
    servers load must come from a listed package. scripts/test.sh builds them static (only
    libc6 then); the image's default build links libuv and hiredis dynamically."""
    pkgs = runtime_packages(L2_BIN, SIDECAR_BIN)
    ldd = subprocess.run(["ldd", L2_BIN, SIDECAR_BIN], capture_output=True, text=True).stdout
    for lib, pkg in (("libuv.so", "libuv1"), ("libhiredis.so", "libhiredis0.14")):
        assert (pkg in pkgs) == (lib in ldd), (lib, pkgs)
    # The script itself, on a binary that certainly loads shared libraries of other packages.
    assert {"libssl3", "libsystemd0"} <= set(runtime_packages("/usr/bin/redis-server"))


def kustomize(path):
    """The objects `kubectl kustomize` renders of an overlay as docs/operations.md runs it (the
    overlays load ../app.yaml, outside their directory), or None where kubectl is missing."""
    if not shutil.which("kubectl"):
        return None
    r = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                        path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(r.stdout) if o}


def k8s_overlay_sidecar(name):
    """docker/k8s/<name>: a kustomize overlay of app.yaml whose one patch names the Deployment
    and container that exist there, sets only options the sidecar has, patches only volumes the
    pod has, and keeps the L2 password file on the mounted `auth` volume. Returns the sidecar's
    environment as patched (app.yaml's rows merged by name with the patch's) and the sidecar's
    mount paths by volume name."""
    base = os.path.join(DOCKER, "k8s", name)
    kust = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
    assert kust["kind"] == "Kustomization"
    for res in kust["resources"]:
        assert os.path.exists(os.path.normpath(os.path.join(base, res))), res
    app = {(o["kind"], o["metadata"]["name"]): o
           for res in kust["resources"]
           for o in yaml.safe_load_all(open(os.path.join(base, res))) if o}
    [p] = kust["patches"]
    patch = yaml.safe_load(open(os.path.join(base, p["path"])))
    pod = app[(patch["kind"], patch["metadata"]["name"])]["spec"]["template"]["spec"]
    sidecar_patch = patch["spec"]["template"]["spec"]["containers"][0]
    sidecar = next(c for c in pod["containers"] if c["name"] == sidecar_patch["name"])
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    env.update({e["name"]: e["value"] for e in sidecar_patch["env"]})
    env_names_ok(env, SIDECAR_BIN)
    assert all(re.fullmatch(r"[\w.-]+:\d+", a) for a in env["TIERCACHE_L2"].split(","))
    mounts_by_name = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    assert os.path.dirname(env["TIERCACHE_L2_PASSWORD_FILE"]) == mounts_by_name["auth"]
    patched_volumes = {v["name"]: v for v in patch["spec"]["template"]["spec"]["volumes"]}
    assert set(patched_volumes) <= {v["name"] for v in pod["volumes"]}
    auth_files = [i["path"] for i in patched_volumes["auth"]["secret"]["items"]]
    assert os.path.basename(env["TIERCACHE_L2_PASSWORD_FILE"]) in auth_files
    rendered = kustomize(base)
    if rendered is not None:  # kustomize merges the patch as read above
        pod = rendered[(patch["kind"], patch["metadata"]["name"])]["spec"]["template"]["spec"]
        sidecar = next(c for c in pod["containers"] if c["name"] == sidecar_patch["name"])
        assert {e["name"]: e["value"] for e in sidecar["env"]} == env
        assert next(v for v in pod["volumes"] if v["name"] == "auth") == patched_volumes["auth"]
    return env, mounts_by_name


def test_k8s_sentinel_overlay_patches_the_app_sidecar():
    """docker/k8s/sentinel: l2-mode sentinel with a master name and the sentinels, and the
    sentinels' password file on the mounted `auth` volume too."""
    env, mounts_by_name = k8s_overlay_sidecar("sentinel")
    assert env["TIERCACHE_L2_MODE"] == "sentinel"
    assert env["TIERCACHE_L2_SENTINEL_MASTER"]
    assert os.path.dirname(env["TIERCACHE_L2_SENTINEL_PASSWORD_FILE"]) == mounts_by_name["auth"]


def test_k8s_cluster_overlay_patches_the_app_sidecar():
    """docker/k8s/cluster: l2-mode cluster with seed nodes, and no sentinel option left over."""
    env, _ = k8s_overlay_sidecar("cluster")
    assert env["TIERCACHE_L2_MODE"] == "cluster"
    assert not any("SENTINEL" in name for name in env)
