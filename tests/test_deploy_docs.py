"""docs/deploy says what the code does: the compose file's commands exist, both replicas run
the same one, the proxy balances over both with a sticky cookie, every secret is declared."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from review.__main__ import _parser

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))


def test_both_replicas_run_one_command_that_exists() -> None:
    services = compose()["services"]
    assert services["app1"] == services["app2"]
    command = services["app1"]["command"]
    assert command[:2] == ["python", "-m"]
    module = Path(__file__).resolve().parent.parent / command[2].replace(".", "/")
    exists = module.with_suffix(".py").is_file() or (module / "__main__.py").is_file()
    assert exists, f"the replicas run {command[2]}, which does not exist"
    assert services["app1"]["environment"]["SIGNOFF_DB"].startswith("postgresql://signoff_app@")


def test_migrate_runs_the_review_command_and_grants_the_role_initdb_creates() -> None:
    command = compose()["services"]["migrate"]["command"]
    args = _parser().parse_args(command[3:])
    assert command[:3] == ["python", "-m", "review"] and args.command == "migrate"
    init = (DEPLOY / "initdb" / "10-app-role.sh").read_text("utf-8")
    assert f"CREATE ROLE {args.app_role} LOGIN" in init


def test_the_proxy_balances_over_every_replica_with_a_sticky_cookie() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text("utf-8")
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddy).group(1).split()
    replicas = [name for name in compose()["services"] if re.fullmatch(r"app\d+", name)]
    assert upstreams == [f"{name}:8080" for name in replicas]
    assert "lb_policy cookie" in caddy and "health_uri /health" in caddy


def test_every_secret_used_is_declared_and_made_in_the_readme() -> None:
    spec = compose()
    used = {s for service in spec["services"].values() for s in service.get("secrets", ())}
    assert used == set(spec["secrets"])
    readme = (DEPLOY / "README.md").read_text("utf-8")
    made = {word for line in re.findall(r"> (\S+)", readme) for word in shlex.split(line)}
    files = {Path(s["file"]).name for s in spec["secrets"].values()}
    assert files <= made, f"docs/deploy/README.md does not say how to make {files - made}"
