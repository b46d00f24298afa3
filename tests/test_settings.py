"""pocctl.toml, the environment and flags: precedence, sources, and errors that name the key."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core.errors import ConfigError
from pocctl.core.session import new_session
from pocctl.settings.resolve import SETTINGS, resolve

from .inventory import everything, flatten


def write(path: Path, text: str) -> None:
    (path / "pocctl.toml").write_text(text)


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(
    tmp_path: Path,
) -> None:
    write(tmp_path, 'stack = "file"\nstage = "filestage"\nmemory = 256\nregion = "eu-west-1"\n')
    environ = {"POCCTL_STACK": "env", "POCCTL_STAGE": "envstage"}
    resolved = resolve({"stack": "flag"}, environ, tmp_path)
    assert resolved.values["stack"] == "flag" and resolved.sources["stack"] == "flag --stack"
    assert resolved.values["stage"] == "envstage"
    assert resolved.sources["stage"] == "env POCCTL_STAGE"
    assert resolved.values["memory"] == 256 and resolved.sources["memory"] == "pocctl.toml"
    assert resolved.values["region"] == "eu-west-1"
    assert resolved.values["runtime"] == "python3.13" and resolved.sources["runtime"] == "default"
    config = resolved.config()
    assert (config.stack, config.stage, config.tuning.memory_mb) == ("flag", "envstage", 256)


def test_the_region_falls_back_to_the_profile_then_us_east_1(tmp_path: Path) -> None:
    found = resolve({}, {}, tmp_path, profile_region=lambda profile: "ap-south-1")
    assert found.values["region"] == "ap-south-1"
    assert found.sources["region"] == "profile default"
    assert resolve({}, {}, tmp_path).values["region"] == "us-east-1"
    write(tmp_path, 'region = "eu-north-1"\n')
    in_file = resolve({}, {}, tmp_path, profile_region=lambda profile: "ap-south-1")
    assert in_file.values["region"] == "eu-north-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('regoin = "eu-west-1"\n', "unknown key 'regoin' (did you mean 'region'?)"),
        ('writer_timeout = "ten"\n', "'writer_timeout' must be an integer, got str 'ten'"),
        ("burst_limit = true\n", "'burst_limit' must be an integer, got bool True"),
        ("memory = 64\n", "memory must be between 128 and 10240, got 64"),
        (
            'runtime = "nodejs20.x"\n',
            "runtime must be a Lambda runtime the handlers run on (python3.11, python3.12, "
            "python3.13, python3.14), got 'nodejs20.x'",
        ),
        ('runtime = "python3.9"\n', "got 'python3.9'"),  # the lab's: deprecated, too old
        ('stack = "bad name"\n', "Invalid stack name 'bad name'"),
        ('email = "nobody"\n', "Invalid email address 'nobody'"),
        ("stage = prod\n", "pocctl.toml is not valid TOML"),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_the_key_and_nothing_is_made(
    runner: CliRunner, aws: None, tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path, text)
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert flatten(everything(new_session(region_name="us-east-1"))) == []


def test_a_bad_environment_value_names_the_variable(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_RATE_LIMIT", "fast")
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "POCCTL_RATE_LIMIT='fast': 'rate_limit' must be a number" in result.output
    monkeypatch.setenv("POCCTL_RATE_LIMIT", "0")
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "POCCTL_RATE_LIMIT: rate_limit must be between 0.1 and 10000, got 0.0" in result.output


def test_config_shows_each_value_and_where_it_came_from(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, 'stage = "beta"\nrate_limit = 5\n')
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    result = runner.invoke(cli, ["config", "--stack", "dev", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    settings = document["settings"]
    assert settings["stack"] == {"value": "dev", "source": "flag --stack"}
    assert settings["region"] == {"value": "eu-west-3", "source": "env AWS_REGION"}
    assert settings["stage"] == {"value": "beta", "source": "pocctl.toml"}
    assert settings["rate_limit"] == {"value": 5.0, "source": "pocctl.toml"}
    # At its default here; commands that reach AWS take the deployed stack's value instead.
    assert settings["memory"] == {"value": 128, "source": "default", "deployed_value_wins": True}
    assert set(settings) == {s.key for s in SETTINGS}
    assert document["file"] == str(tmp_path / "pocctl.toml")

    table = runner.invoke(cli, ["config"])
    assert table.exit_code == 0
    assert any(
        line.split() == ["stage", "beta", "pocctl.toml"] for line in table.output.splitlines()
    )


def test_init_writes_a_commented_file_that_config_reads_back(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the environment would beat the file
    result = runner.invoke(cli, ["init", "--region", "eu-west-1"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "pocctl.toml").read_text()
    # Only these: a default pinned in the file would beat what the stack was deployed with.
    assert tomllib.loads(text) == {"stack": "POC", "region": "eu-west-1"}
    assert '# stage = "prod"' in text
    for setting in SETTINGS:
        if setting.key == "environment":
            assert "# [environment]" in text and setting.help in text
        elif setting.key not in ("profile", "endpoint_url"):
            assert f"{setting.key} = " in text and setting.help in text
    shown = json.loads(runner.invoke(cli, ["config", "--json"]).stdout)["settings"]
    assert shown["region"] == {"value": "eu-west-1", "source": "pocctl.toml"}

    again = runner.invoke(cli, ["init"])
    assert again.exit_code == 1
    assert "pocctl.toml already exists; nothing was written" in again.output
    assert "--force" in again.output
    forced = runner.invoke(cli, ["init", "--force"])
    assert forced.exit_code == 0
    assert tomllib.loads((tmp_path / "pocctl.toml").read_text())["region"] == "us-east-1"


def test_up_builds_what_the_file_says(runner: CliRunner, aws: None, tmp_path: Path) -> None:
    write(tmp_path, 'stack = "filed"\nstage = "beta"\nrate_limit = 5\nwriter_timeout = 20\n')
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 0, result.output
    session = new_session(region_name="us-east-1")
    function = session.client("lambda").get_function(FunctionName="filed-Lambda-1")
    assert function["Configuration"]["Timeout"] == 20
    sqs = session.client("sqs")
    url = sqs.get_queue_url(QueueName="filed-Queue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "120"  # six times the timeout
    assert "/beta/order" in result.output and "up to 5 requests/s" in result.output


def test_resolve_refuses_an_unknown_key_without_a_cli(tmp_path: Path) -> None:
    write(tmp_path, "colour = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        resolve({}, {}, tmp_path)
