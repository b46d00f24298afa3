"""Issue 21, items 1 and 12: every command sees the stack as it was deployed (the settings `up`
applied, recorded on the stack's own resources), and the functions take the user's environment
variables. From the user's side: the commands' output and exit codes, against `pocctl local`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.remember import rewritten
from pocctl.code.bundle import bundled_dir
from pocctl.core.config import Config, environment_size
from pocctl.core.errors import ConfigError
from pocctl.local.emulator import Emulator


@pytest.fixture
def pocctl(emulator: Emulator, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    return run


def handlers_copy(where: Path) -> Path:
    """The user's own handlers: pocctl's, with one comment more (another CodeSha256)."""
    shutil.copytree(bundled_dir("handlers"), where)
    writer = where / "order_writer.py"
    writer.write_text(writer.read_text() + "\n# mine\n")
    return where


def counts(result: Result) -> dict[str, int]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document["counts"]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_every_command_sees_the_stack_as_deployed(pocctl: Any, tmp_path: Path) -> None:
    mine = handlers_copy(tmp_path / "mine")
    up = pocctl(
        "up", "--stack", "dev", "--stage", "test", "--handlers", str(mine), "--rate-limit", "2",
        "--env", "LOG_LEVEL=DEBUG",
    )  # fmt: skip
    assert up.exit_code == 0, up.output
    assert "Try it: pocctl test-order --stack dev" in up.output

    order = pocctl("test-order", "--stack", "dev")
    assert order.exit_code == 0, order.output
    assert "Every hop passed" in order.output

    outputs = json.loads(pocctl("outputs", "--stack", "dev", "--json").stdout)
    assert "/test/" in outputs["order_url"]
    listed = pocctl("ls", "--json")
    (dev,) = [s for s in json.loads(listed.stdout)["stacks"] if s["stack"] == "dev"]
    assert "/test/" in dev["order_url"] and dev["health"] == "healthy"

    status = pocctl("status", "--stack", "dev")
    assert status.exit_code == 0, status.output
    assert "stage prod missing" not in status.output
    assert "code changed" not in status.output
    assert "Run `pocctl up`" not in status.output
    assert "(public, 2 requests/s, burst 20)" in status.output
    assert f"code from {mine}/" in status.output

    again = pocctl("up", "--stack", "dev", "--json")
    assert again.exit_code == 0, again.output
    assert counts(again) == {"unchanged": counts(again)["unchanged"]}  # no write
    assert json.loads(again.stdout)["code"]["source"] == str(mine)
    shown = pocctl("config", "--stack", "dev")
    assert any(
        line.split() == ["stage", "prod", "default", "*"] for line in shown.output.splitlines()
    )
    assert "commands that reach AWS use the value the stack was last deployed with" in shown.output


def test_a_setting_in_pocctl_toml_that_a_flag_changed_is_updated(
    pocctl: Any, tmp_path: Path
) -> None:
    config = tmp_path / "pocctl.toml"
    config.write_text('stack = "saved"\n# the stage\nstage = "prod"  # old\nmemory = 128\n')
    up = pocctl("up", "--stage", "test")
    assert up.exit_code == 0, up.output
    assert (
        'pocctl.toml: stage = "test" (was "prod"), so later commands see the stack as deployed'
        in up.output
    )
    assert config.read_text() == (
        'stack = "saved"\n# the stage\nstage = "test"  # old\nmemory = 128\n'
    )
    assert "/test/" in json.loads(pocctl("outputs", "--json").stdout)["order_url"]

    # Edited after the deploy: a change `up` would make, not damage.
    config.write_text(config.read_text().replace("memory = 128", "memory = 256"))
    status = pocctl("status")
    assert status.exit_code == 0, status.output
    assert "pending: `up` would change memory 128 -> 256, from pocctl.toml" in status.output
    assert "drifted" not in status.output


def test_pocctl_toml_is_rewritten_exactly_whatever_its_layout(pocctl: Any, tmp_path: Path) -> None:
    # Quoted keys, a table header with a comment, comments inside the table and at line ends,
    # and a value with a newline (TOML forbids a raw one in a basic string).
    config = tmp_path / "pocctl.toml"
    config.write_text(
        '"stack" = "lay"\n"stage" = "prod"  # where\n\n[environment]  # for the handlers\n'
        '# the greeting\nMSG = "hi"  # said first\n# the level\nLEVEL = "1"\n'
    )
    up = pocctl("up", "--stage", "qa", "--env", "MSG=a\nb", "--env", "LEVEL=2")
    assert up.exit_code == 0, up.output
    assert 'pocctl.toml: stage = "qa" (was "prod")' in up.output
    assert "pocctl.toml: environment = {LEVEL=2, MSG=a\nb} (was {LEVEL=1, MSG=hi})" in up.output
    assert config.read_text() == (
        '"stack" = "lay"\n"stage" = "qa"  # where\n\n[environment]  # for the handlers\n'
        '# the greeting\nMSG = "a\\nb"  # said first\n# the level\nLEVEL = "2"\n'
    )
    shown = pocctl("config", "--json")
    assert shown.exit_code == 0, shown.output
    assert "/qa/" in json.loads(pocctl("outputs", "--json").stdout)["order_url"]


def test_dotted_environment_keys_in_pocctl_toml_are_rewritten(pocctl: Any, tmp_path: Path) -> None:
    config = tmp_path / "pocctl.toml"
    config.write_text('stack = "dots"\nenvironment.MSG = "hi"  # kept\n')
    up = pocctl("up", "--env", "MSG=bye")
    assert up.exit_code == 0, up.output
    assert "pocctl.toml: environment = {MSG=bye} (was {MSG=hi})" in up.output
    assert config.read_text() == 'stack = "dots"\nenvironment.MSG = "bye"  # kept\n'


def test_a_rewrite_that_cannot_be_exact_leaves_pocctl_toml_alone() -> None:
    text = 'handlers = "mine"  # my code\n'
    assert rewritten(text, {"handlers": None}) is None  # TOML has no null
    assert rewritten(text, {"handlers": "yours"}) == 'handlers = "yours"  # my code\n'


def test_a_rate_limit_with_many_digits_is_recorded_exactly(pocctl: Any) -> None:
    up = pocctl("up", "--stack", "fine", "--rate-limit", "2.345678901")
    assert up.exit_code == 0, up.output
    status = pocctl("status", "--stack", "fine")
    assert status.exit_code == 0, status.output
    assert "Run `pocctl up`" not in status.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_code_from_a_directory_not_on_this_machine_is_left_as_it_is(
    pocctl: Any, tmp_path: Path
) -> None:
    mine = handlers_copy(tmp_path / "elsewhere")
    assert pocctl("up", "--stack", "away", "--handlers", str(mine)).exit_code == 0
    shutil.rmtree(mine)  # another machine: a teammate's checkout

    status = pocctl("status", "--stack", "away")
    assert status.exit_code == 0, status.output
    assert f"code from {mine}/ (not on this machine: not compared)" in status.output
    assert "Run `pocctl up`" not in status.output

    up = pocctl("up", "--stack", "away")
    assert up.exit_code == 1
    assert f"code was deployed from {mine}/, which is not on this machine" in up.output
    assert "nothing was changed" in up.output


def test_environment_variables_are_applied_checked_and_repaired(
    pocctl: Any, emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "pocctl.toml").write_text(
        'stack = "envs"\n\n[environment]\n# shown to the handlers\nLOG_LEVEL = "DEBUG"\n'
        'API_TOKEN = "s3cret"\n'
    )
    shown = pocctl("config")
    assert "LOG_LEVEL=DEBUG" in shown.output and "API_TOKEN=***" in shown.output
    assert "s3cret" not in shown.output

    assert pocctl("up").exit_code == 0
    invoked = pocctl("invoke", "1", "--json")
    assert invoked.exit_code == 0, invoked.output
    lam = emulator_client(emulator, "lambda")
    for function in ("envs-Lambda-1", "envs-Lambda-2"):
        variables = lam.get_function_configuration(FunctionName=function)["Environment"]
        assert {"LOG_LEVEL": "DEBUG", "API_TOKEN": "s3cret"}.items() <= variables[
            "Variables"
        ].items()
    assert pocctl("status").exit_code == 0

    # By hand, in the console: one changed, one removed, one added.
    variables = lam.get_function_configuration(FunctionName="envs-Lambda-2")["Environment"]
    edited = {**variables["Variables"], "LOG_LEVEL": "INFO", "EXTRA": "1"}
    del edited["API_TOKEN"]
    lam.update_function_configuration(
        FunctionName="envs-Lambda-2", Environment={"Variables": edited}
    )
    status = pocctl("status")
    assert status.exit_code == 1
    assert (
        "Lambda function envs-Lambda-2 has drifted (environment variables differ from the "
        "deploy: API_TOKEN removed, EXTRA added (not deployed), LOG_LEVEL is 'INFO' (deployed: "
        "'DEBUG'))" in status.output
    )
    assert "envs-Lambda-1 has drifted" not in status.output
    assert "s3cret" not in status.output
    planned = pocctl("up", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert (
        "environment variables: sets API_TOKEN, removes EXTRA, changes LOG_LEVEL 'INFO' -> "
        "'DEBUG'" in planned.output
    )

    repaired = pocctl("up", "--json")
    assert repaired.exit_code == 0, repaired.output
    assert counts(repaired).get("updated") == 1
    assert pocctl("status").exit_code == 0


def variables_of(emulator: Emulator, function: str) -> dict[str, str]:
    lam = emulator_client(emulator, "lambda")
    found: dict[str, str] = lam.get_function_configuration(FunctionName=function)["Environment"][
        "Variables"
    ]
    return found


def edit_by_hand(emulator: Emulator, function: str, **changes: str | None) -> None:
    """As in the console: each variable set, or removed (None)."""
    variables = variables_of(emulator, function)
    for key, value in changes.items():
        if value is None:
            variables.pop(key, None)
        else:
            variables[key] = value
    emulator_client(emulator, "lambda").update_function_configuration(
        FunctionName=function, Environment={"Variables": variables}
    )


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_hand_edit_of_one_function_is_blamed_on_that_function(
    pocctl: Any, emulator: Emulator
) -> None:
    """The values are not recorded, but their digest is: the function that still matches it
    holds the deployed values, whichever of the two was edited."""
    up = pocctl("up", "--stack", "one", "--env", "LOG_LEVEL=DEBUG", "--env", "MODE=fast")
    assert up.exit_code == 0, up.output
    edit_by_hand(emulator, "one-Lambda-1", LOG_LEVEL="INFO")

    status = pocctl("status", "--stack", "one")
    assert status.exit_code == 1, status.output
    assert (
        "Lambda function one-Lambda-1 has drifted (environment variables differ from the "
        "deploy: LOG_LEVEL is 'INFO' (deployed: 'DEBUG'))" in status.output
    )
    assert "one-Lambda-2 has drifted" not in status.output
    planned = pocctl("up", "--stack", "one", "--dry-run")
    assert "changes LOG_LEVEL 'INFO' -> 'DEBUG'" in planned.output, planned.output
    assert pocctl("up", "--stack", "one").exit_code == 0
    for function in ("one-Lambda-1", "one-Lambda-2"):
        assert variables_of(emulator, function)["LOG_LEVEL"] == "DEBUG"
    assert pocctl("status", "--stack", "one").exit_code == 0


@pytest.mark.slow  # heavy (tests/cases.py)
def test_the_same_hand_edit_on_both_functions_is_drift_up_wont_guess(
    pocctl: Any, emulator: Emulator
) -> None:
    """Neither function holds the deployed values, which are not recorded: `status` says so
    (exit 1) and `up` changes nothing until told the variables."""
    up = pocctl("up", "--stack", "both", "--env", "LOG_LEVEL=DEBUG", "--env", "API_KEY=k1")
    assert up.exit_code == 0, up.output
    for function in ("both-Lambda-1", "both-Lambda-2"):
        edit_by_hand(emulator, function, LOG_LEVEL=None, API_KEY=None)

    status = pocctl("status", "--stack", "both")
    assert status.exit_code == 1, status.output
    assert "differ from the last deploy (the deployed keys: API_KEY, LOG_LEVEL)" in status.output
    assert "values are not recorded" in status.output
    assert "Set the variables again with --env KEY=VALUE" in status.output
    refused = pocctl("up", "--stack", "both")
    assert refused.exit_code == 1, refused.output
    assert "nothing was changed" in refused.output
    assert pocctl("status", "--stack", "both").exit_code == 1  # the record is as it was

    again = pocctl("up", "--stack", "both", "--env", "LOG_LEVEL=DEBUG", "--env", "API_KEY=k1")
    assert again.exit_code == 0, again.output
    assert pocctl("status", "--stack", "both").exit_code == 0


@pytest.mark.slow  # heavy (tests/cases.py)
def test_with_environment_in_pocctl_toml_both_hand_edits_are_named(
    pocctl: Any, emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "pocctl.toml").write_text(
        'stack = "toml"\n\n[environment]\nLOG_LEVEL = "DEBUG"\nMODE = "fast"\n'
    )
    assert pocctl("up").exit_code == 0
    edit_by_hand(emulator, "toml-Lambda-1", LOG_LEVEL="INFO")
    status = pocctl("status")
    assert status.exit_code == 1
    assert "toml-Lambda-1 has drifted" in status.output
    assert "toml-Lambda-2 has drifted" not in status.output

    edit_by_hand(emulator, "toml-Lambda-2", LOG_LEVEL="INFO")
    status = pocctl("status")
    assert status.exit_code == 1
    for function in ("toml-Lambda-1", "toml-Lambda-2"):
        assert (
            f"Lambda function {function} has drifted (environment variables differ from the "
            "deploy: LOG_LEVEL is 'INFO' (deployed: 'DEBUG'))" in status.output
        )
    assert "values are not recorded" not in status.output
    repaired = pocctl("up", "--json")
    assert repaired.exit_code == 0, repaired.output
    assert counts(repaired).get("updated") == 2
    assert pocctl("status").exit_code == 0


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_words_the_variables_it_will_set_and_remove(pocctl: Any) -> None:
    assert pocctl("up", "--stack", "words", "--env", "API_KEY=k").exit_code == 0
    planned = pocctl("up", "--stack", "words", "--env", "DB_PASSWORD=x", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "environment variables: removes API_KEY, sets DB_PASSWORD" in planned.output
    assert "not set by up" not in planned.output and "added" not in planned.output
    status = pocctl("status", "--stack", "words", "--env", "DB_PASSWORD=x")
    assert status.exit_code == 0, status.output
    assert "pending: `up` would change environment {API_KEY=***} -> {DB_PASSWORD=***}" in (
        status.output
    )


@pytest.mark.slow  # heavy (tests/cases.py)
def test_the_way_back_to_the_built_in_code_and_to_no_variables(
    pocctl: Any, emulator: Emulator, tmp_path: Path
) -> None:
    mine = handlers_copy(tmp_path / "mine")
    up = pocctl("up", "--stack", "back", "--handlers", str(mine), "--env", "LOG_LEVEL=DEBUG")
    assert up.exit_code == 0, up.output
    assert f"code from {mine}/" in pocctl("status", "--stack", "back").output

    back = pocctl("up", "--stack", "back", "--handlers", "built-in", "--env", "")
    assert back.exit_code == 0, back.output
    status = pocctl("status", "--stack", "back", "--json")
    assert status.exit_code == 0, status.output
    functions = json.loads(status.stdout)["resources"]
    assert {functions[k]["code"]["source"] for k in ("writer", "notifier")} == {"built-in"}
    assert "LOG_LEVEL" not in variables_of(emulator, "back-Lambda-1")
    assert counts(pocctl("up", "--stack", "back", "--json")).get("updated") is None

    # The same from pocctl.toml: handlers = "built-in" and an empty [environment] table.
    assert pocctl("up", "--stack", "back", "--handlers", str(mine), "--env", "A1=x").exit_code == 0
    (tmp_path / "pocctl.toml").write_text(
        'stack = "back"\nhandlers = "built-in"\n\n[environment]\n'
    )
    planned = pocctl("up", "--dry-run")
    assert "environment variables: removes A1" in planned.output, planned.output
    assert pocctl("up").exit_code == 0
    assert counts(pocctl("up", "--json")).get("updated") is None
    assert "A1" not in variables_of(emulator, "back-Lambda-2")
    assert "code from built-in handlers" in pocctl("status").output


def test_config_json_hides_secret_looking_values(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "pocctl.toml").write_text('[environment]\nAPI_TOKEN = "s3cret"\nLOG_LEVEL = "D"\n')
    shown = runner.invoke(cli, ["config", "--json"])
    assert shown.exit_code == 0, shown.output
    assert "s3cret" not in shown.stdout
    assert json.loads(shown.stdout)["settings"]["environment"]["value"] == {
        "API_TOKEN": "***",
        "LOG_LEVEL": "D",
    }


def test_a_wrapper_script_variable_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    """AWS_LAMBDA_EXEC_WRAPPER is not among Lambda's reserved keys ("Modifying the runtime
    environment", Wrapper scripts)."""
    (tmp_path / "pocctl.toml").write_text(
        '[environment]\nAWS_LAMBDA_EXEC_WRAPPER = "/var/task/wrapper"\n'
    )
    shown = runner.invoke(cli, ["config"])
    assert shown.exit_code == 0, shown.output
    assert "AWS_LAMBDA_EXEC_WRAPPER=/var/task/wrapper" in shown.output


def test_the_4_kb_limit_holds_however_lambda_counts_it() -> None:
    """Lambda doesn't say what its 4 KB counts: keys and values, or the JSON of the map. pocctl
    refuses what is over in the larger count, so AWS never refuses what pocctl sends."""
    many = {f"K{i:03}": "v" * 30 for i in range(110)}  # 3,740 bytes of keys and values
    assert sum(len(k) + len(v) for k, v in many.items()) < 4096 - 200  # with pocctl's own
    with pytest.raises(ConfigError, match="over Lambda's limit of 4,096"):
        Config(environment=many)  # its JSON is over 4 KB
    fewer = dict(list(many.items())[:90])
    assert environment_size(fewer) < 4096 - 200
    assert Config(environment=fewer).environment == fewer


def emulator_client(emulator: Emulator, service: str) -> Any:
    from pocctl.core.session import new_session

    session = new_session(
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
        region_name="us-east-1",
    )
    return session.client(service, endpoint_url=emulator.endpoint_url)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("TABLE_NAME=x", "Environment variable TABLE_NAME is set by pocctl itself"),
        ("AWS_REGION=eu-west-1", "Environment variable AWS_REGION is reserved by Lambda"),
        ("AWS_LAMBDA_FUNCTION_NAME=x", "Environment variable AWS_LAMBDA_FUNCTION_NAME is reserv"),
        ("TZ=Europe/Paris", "Environment variable TZ is reserved by Lambda"),
        ("_HANDLER=x", "Environment variable _HANDLER is reserved by Lambda"),
        ("1ABC=x", "Invalid environment variable name '1ABC'"),
        ("A=x", "Invalid environment variable name 'A'"),
        ("NOEQUALS", "'NOEQUALS' is not KEY=VALUE"),
        ("BIG=" + "x" * 4000, "over Lambda's limit of 4,096 (4 KB)"),
    ],
)
def test_bad_environment_variables_are_refused(runner: CliRunner, value: str, message: str) -> None:
    result = runner.invoke(cli, ["up", "--env", value])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_stack_from_an_older_pocctl_is_checked_as_before_and_recorded_by_up(
    pocctl: Any, emulator: Emulator
) -> None:
    assert pocctl("up", "--stack", "old", "--stage", "beta").exit_code == 0
    lam, ag = emulator_client(emulator, "lambda"), emulator_client(emulator, "apigateway")
    recorded = ["pocctl:code", "pocctl:runtime", "pocctl:memory", "pocctl:timeout"]
    for function in ("old-Lambda-1", "old-Lambda-2"):  # as an older pocctl left them
        arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        lam.untag_resource(Resource=arn, TagKeys=[*recorded, "pocctl:environment"])
    (api,) = [a for a in ag.get_rest_apis()["items"] if a["name"] == "old-API"]
    stage = f"arn:aws:apigateway:us-east-1::/restapis/{api['id']}/stages/beta"
    ag.untag_resource(
        resourceArn=stage,
        tagKeys=["pocctl:stage", "pocctl:rate-limit", "pocctl:burst-limit", "pocctl:alarms"],
    )

    status = pocctl("status", "--stack", "old")  # its one stage is read back
    assert status.exit_code == 0, status.output
    assert "/beta/" in status.output and "drifted" not in status.output

    up = pocctl("up", "--stack", "old", "--json")  # records what it finds, changes nothing else
    assert up.exit_code == 0, up.output
    assert counts(up)["updated"] == 3
    assert lam.list_tags(Resource=arn)["Tags"]["pocctl:code"] == "built-in"
    assert counts(pocctl("up", "--stack", "old", "--json")).get("updated") is None


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_handlers_path_a_tag_cant_hold_is_recorded_honestly(pocctl: Any, tmp_path: Path) -> None:
    odd = handlers_copy(tmp_path / "my handlers (v2), ünïcode")  # tags refuse ( ) and ,
    assert pocctl("up", "--stack", "odd", "--handlers", str(odd)).exit_code == 0
    status = pocctl("status", "--stack", "odd")
    assert status.exit_code == 0, status.output
    assert f"code from {odd}/ @" in status.output

    deep = tmp_path.joinpath(*["a-long-directory-name"] * 12)  # over a tag's 256 characters
    handlers_copy(deep)
    assert pocctl("up", "--stack", "odd", "--handlers", str(deep)).exit_code == 0
    status = pocctl("status", "--stack", "odd")
    assert status.exit_code == 0, status.output
    assert "could not be recorded)/ (not on this machine: not compared)" in status.output
    assert "Run `pocctl up`" not in status.output
    up = pocctl("up", "--stack", "odd")
    assert up.exit_code == 1
    assert "whose path was too long to record (a tag holds 256 characters)" in up.output
    assert pocctl("up", "--stack", "odd", "--handlers", str(deep)).exit_code == 0


def test_pocctl_local_refuses_a_tag_lambda_refuses(emulator: Emulator) -> None:
    from botocore.exceptions import ClientError

    lam = emulator_client(emulator, "lambda")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:nobody"
    for tags, part in (
        ({"pocctl:code": "/my handlers (v2)"}, "Map value"),
        ({"pocctl:code": "/" + "a" * 256}, "Map value"),
        ({"pocctl code(1)": "x"}, "Map key"),
        ({"k" * 129: "x"}, "Map key"),
    ):
        with pytest.raises(ClientError) as refused:
            lam.tag_resource(Resource=arn, Tags=tags)
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"].startswith("1 validation error detected: Value '{")
        assert (
            f"' at 'tags' failed to satisfy constraint: {part} must satisfy constraint: ["
            in (error["Message"])
        )


def test_pocctl_local_refuses_the_environments_lambda_refuses(
    pocctl: Any, emulator: Emulator
) -> None:
    """Reserved keys and over 4 KB: refused on create and on update alike."""
    from botocore.exceptions import ClientError

    assert pocctl("up", "--stack", "lim").exit_code == 0
    lam = emulator_client(emulator, "lambda")
    role = lam.get_function(FunctionName="lim-Lambda-1")["Configuration"]["Role"]
    create = {
        "FunctionName": "lim-by-hand",
        "Runtime": "python3.12",
        "Role": role,
        "Handler": "x.handler",
        "Code": {"ZipFile": handlers_zip()},
    }
    refusals = (
        ({"AWS_REGION": "eu-west-1"}, "reserved keys that are currently not supported for "
         "modification. Reserved keys used in this request: AWS_REGION"),
        ({"BIG": "x" * 5000}, "exceeded the 4KB limit"),
    )  # fmt: skip
    for variables, message in refusals:
        with pytest.raises(ClientError, match="InvalidParameterValueException") as refused:
            lam.create_function(**create, Environment={"Variables": variables})
        assert message in str(refused.value)
        with pytest.raises(ClientError, match="InvalidParameterValueException") as refused:
            lam.update_function_configuration(
                FunctionName="lim-Lambda-1", Environment={"Variables": variables}
            )
        assert message in str(refused.value)
    wrapped = {"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"}}
    lam.create_function(**create, Environment=wrapped)  # a wrapper script: settable


def handlers_zip() -> bytes:
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("x.py", "def handler(event, context):\n    return None\n")
    return code.getvalue()


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_pocctl_toml_naming_another_stage_does_not_mislead(
    pocctl: Any, emulator: Emulator, tmp_path: Path
) -> None:
    """Review of item 1: the stack serves at qa and pocctl.toml (a teammate's, or one an older
    `init` wrote) says prod. Reading commands use qa and say so; status's repair keeps qa."""
    config = tmp_path / "pocctl.toml"
    config.write_text('stack = "team"\nstage = "qa"\n')
    assert pocctl("up").exit_code == 0
    config.write_text('stack = "team"\nstage = "prod"\n')
    said = (
        "pocctl.toml says stage prod; the stack serves at qa (its last up): "
        "`pocctl up` would move it"
    )

    order = pocctl("test-order")
    assert order.exit_code == 0, order.output
    assert said in order.output
    outputs = pocctl("outputs", "--json")
    assert outputs.exit_code == 0, outputs.output
    assert "/qa/" in json.loads(outputs.stdout)["order_url"]

    status = pocctl("status")
    assert status.exit_code == 0, status.output
    assert "pending: `up` would change stage qa -> prod, from pocctl.toml" in status.output

    emulator_client(emulator, "lambda").update_function_configuration(
        FunctionName="team-Lambda-1", MemorySize=512
    )
    status = pocctl("status")
    assert status.exit_code == 1, status.output
    keep = "Run `pocctl up --stage qa` to repair what is missing or drifted and keep the deploy"
    assert keep in status.output
    assert "Run `pocctl up` to repair" not in status.output


def test_of_several_stages_the_one_up_recorded_on_itself_is_used_and_said(
    pocctl: Any, emulator: Emulator
) -> None:
    assert pocctl("up", "--stack", "many", "--stage", "qa").exit_code == 0
    # A stage made by hand with qa's tags copied: its record names qa, not itself.
    stage_beside(emulator, "many", "copy", naming="qa")
    shown = pocctl("outputs", "--stack", "many", "--json")
    assert shown.exit_code == 0, shown.output
    assert "/qa/" in json.loads(shown.stdout)["order_url"]

    stage_beside(emulator, "many", "prod", naming="prod")
    shown = pocctl("outputs", "--stack", "many")
    assert shown.exit_code == 0, shown.output
    assert "note: stages qa, prod all carry up's record; using prod" in shown.output


def test_of_several_stages_with_dates_the_one_updated_last_is_used(
    pocctl: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS's Stage carries lastUpdatedDate (botocore's apigateway model, Stage); moto's does not,
    so here the stages get dates as AWS would give them: qa updated after prod."""
    from moto.apigateway.models import Stage

    dates = {"prod": 1_700_000_000, "qa": 1_700_000_600}
    plain = Stage.to_json

    def dated(self: Stage) -> dict[str, Any]:
        return {**plain(self), "createdDate": 1_600_000_000, "lastUpdatedDate": dates[self.name]}

    monkeypatch.setattr(Stage, "to_json", dated)
    assert pocctl("up", "--stack", "dated", "--stage", "qa").exit_code == 0
    stage_beside(emulator, "dated", "prod", naming="prod")
    shown = pocctl("outputs", "--stack", "dated")
    assert shown.exit_code == 0, shown.output
    assert "note: stages prod, qa all carry up's record; using qa, the one updated last" in (
        shown.output
    )
    assert "/qa/" in shown.output


def stage_beside(emulator: Emulator, stack: str, name: str, *, naming: str) -> None:
    """A stage made by hand beside the stack's qa, with its tags but `pocctl:stage` = naming."""
    api = emulator_client(emulator, "apigateway")
    (rest,) = [a for a in api.get_rest_apis()["items"] if a["name"] == f"{stack}-API"]
    (ours,) = [s for s in api.get_stages(restApiId=rest["id"])["item"] if s["stageName"] == "qa"]
    api.create_stage(
        restApiId=rest["id"],
        stageName=name,
        deploymentId=ours["deploymentId"],
        tags={**ours["tags"], "pocctl:stage": naming},
    )
