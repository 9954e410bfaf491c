"""CI-ONLY STAND-IN for the `hashicorp/external` Terraform provider.

The Terraform registry is unreachable from vaultlet's build and CI machines, so
the real provider cannot be installed there. This module re-implements the
provider's one data source, `external`, faithfully to its documented program
protocol (hashicorp/terraform-provider-external v2.3.2+, see
/work/shared/reference/terraform.md §1.1), on top of the PyPI `tf` provider
framework, so our modules and examples can be planned and applied offline.

It is installed through `dev_overrides` by scripts/install-terraform-toolchain.sh
and is never shipped to users: on a connected machine Terraform fetches the
real hashicorp/external from the registry, and nothing in our HCL differs.

Protocol reproduced here:
- `program` (list of strings, required): null and empty elements are dropped;
  the first element is resolved through PATH when it has no slash, else
  relative to `working_dir`; argv is executed directly, never through a shell.
- `query` (map of strings, optional): sent on stdin as one JSON object; keys
  whose value is null are omitted; no query means `{}`.
- `working_dir` (string, optional): the child's cwd, default Terraform's cwd.
- The child inherits Terraform's whole environment.
- Exit status non-zero: the data source fails, stdout is ignored, and stderr
  (if any) becomes the error message.
- stdout must decode to a JSON object whose values are all strings, otherwise
  "Unexpected External Program Results".
- `result` (map of strings) holds that object; `id` is always "-".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tf import runner, schema, types
from tf.iface import Config, DataSource, ReadDataContext, State
from tf.provider import Provider
from tf.utils import Diagnostics

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/external"

UNEXPECTED_RESULTS_DETAIL = (
    "The data source received unexpected results after executing the program.\n\n"
    "Program output must be a JSON encoded map of string keys and string values.\n\n"
    "If the error is unclear, the output can be viewed by enabling Terraform's logging at TRACE level."
)


def program_argv(program: list) -> list[str]:
    """The argv to execute: null and empty elements are dropped, as in external >= 2.2.1."""
    return [str(part) for part in program or [] if part]


def resolve_executable(name: str, working_dir: str) -> str | None:
    """Go's exec.Command rules: bare names via PATH, paths relative to the child's Dir."""
    if os.sep not in name:
        return shutil.which(name)
    return name if os.path.isabs(name) else os.path.join(working_dir, name)


def query_json(query: dict | None) -> bytes:
    """stdin for the program: one JSON object; null values omitted (external >= 2.3.2)."""
    return json.dumps({key: value for key, value in (query or {}).items() if value is not None}).encode()


def parse_result(stdout: bytes) -> dict[str, str] | None:
    """The program's result, or None when it is not a JSON object of strings."""
    try:
        result = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(result, dict) or not all(isinstance(value, str) for value in result.values()):
        return None
    return result


class ExternalDataSource(DataSource):
    def __init__(self, provider: ExternalStandinProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return ""  # the data source type is exactly the provider prefix: "external"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return schema.Schema(
            description="CI stand-in for hashicorp/external's `external` data source (same protocol).",
            attributes=[
                schema.Attribute("program", types.List(types.String()), required=True),
                schema.Attribute("query", types.Map(types.String()), optional=True),
                schema.Attribute("working_dir", types.String(), optional=True),
                schema.Attribute("result", types.Map(types.String()), computed=True),
                schema.Attribute("id", types.String(), computed=True),
            ],
        )

    def validate(self, diags: Diagnostics, type_name: str, config: Config):
        super().validate(diags, type_name, config)
        program = config.get("program")
        if isinstance(program, list) and all(isinstance(part, str) for part in program) and not program:
            diags.add_error(
                "Invalid Attribute Value", "Attribute program list must contain at least 1 elements"
            )

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        argv = program_argv(config.get("program"))
        if not argv:
            ctx.diagnostics.add_error(
                "External Program Missing",
                "The data source was configured without a program to execute. Verify the configuration "
                "contains at least one non-empty value.",
                path=["program"],
            )
            return None
        working_dir = config.get("working_dir") or os.getcwd()
        executable = resolve_executable(argv[0], working_dir)
        if executable is None:
            ctx.diagnostics.add_error(
                "External Program Lookup Failed",
                f"The data source received an unexpected error while attempting to find the program.\n\n"
                f"The program must be accessible according to the platform where Terraform is running.\n\n"
                f'Error: exec: "{argv[0]}": executable file not found in $PATH',
                path=["program"],
            )
            return None
        try:
            completed = subprocess.run(
                [executable, *argv[1:]],
                input=query_json(config.get("query")),
                capture_output=True,
                cwd=working_dir,
                env=os.environ.copy(),
            )
        except OSError as error:
            ctx.diagnostics.add_error(
                "External Program Execution Failed",
                f"The data source received an unexpected error while attempting to execute the program.\n\n"
                f"Program: {executable}\nError: {error}",
                path=["program"],
            )
            return None
        # Like the real provider, stderr is always logged (here: to the plugin log).
        if completed.stderr:
            sys.stderr.write(completed.stderr.decode(errors="replace"))
        if completed.returncode != 0:
            ctx.diagnostics.add_error(
                "External Program Execution Failed", _failure_detail(executable, completed)
            )
            return None
        result = parse_result(completed.stdout)
        if result is None:
            ctx.diagnostics.add_error("Unexpected External Program Results", UNEXPECTED_RESULTS_DETAIL)
            return None
        return {**config, "result": result, "id": "-"}


def _failure_detail(executable: str, completed: subprocess.CompletedProcess) -> str:
    stderr = completed.stderr.decode(errors="replace").strip()
    if not stderr:
        return (
            "The data source received an unexpected error while attempting to execute the program.\n\n"
            f"The program was executed, however it returned no additional error messaging.\n\n"
            f"Program: {executable}\nState: exit status {completed.returncode}"
        )
    return (
        "The data source received an unexpected error while attempting to execute the program.\n\n"
        f"Program: {executable}\nError Message: {stderr}\nState: exit status {completed.returncode}"
    )


class ExternalStandinProvider(Provider):
    def full_name(self) -> str:
        return PROVIDER_ADDRESS

    def get_model_prefix(self) -> str:
        return "external"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config):
        pass

    def configure_provider(self, diags: Diagnostics, config: Config):
        pass

    def get_data_sources(self) -> list[type[DataSource]]:
        return [ExternalDataSource]

    def get_resources(self) -> list:
        return []


def main() -> None:
    runner.run_provider(ExternalStandinProvider(), sys.argv)


if __name__ == "__main__":
    main()
