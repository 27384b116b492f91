"""What `sam local start-api --env-vars local/env.json` hands each function.

sam local passes a function only the variables template.yaml declares, and a
declared variable it cannot resolve (a !Ref to a stack resource, an !If, a
parameter left empty) arrives as an empty string unless env.json sets it. This
asks SAM CLI's own code (the installed aws-sam-cli) for each function's
environment and fails on any variable that would arrive empty, or on an invoked function
name that `sam local start-lambda` would not know.

Usage: python3 local/e2e/sam_local_env.py   (from the repository root)
"""

import json
import os
import sys

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider


def invoked_names(env):
    """The function names a function invokes: `*_FUNCTION` and the items router's table."""
    names = [v for k, v in env.items() if k.endswith("_FUNCTION")]
    for entry in filter(None, env.get("ITEM_SERVICES", "").split(",")):
        names.append(entry.split("=", 1)[-1].split("@", 1)[0])
    return names


def main():
    stacks, _ = SamLocalStackProvider.get_stacks("template.yaml", parameter_overrides={})
    provider = SamFunctionProvider(stacks)
    with open("local/env.json") as f:
        env_json = json.load(f)
    # No Docker runtime is needed to compute the environment.
    runner = LocalLambdaRunner(None, provider, os.getcwd(), os.getcwd(), env_vars_values=env_json)
    problems, functions = [], 0
    # The names `sam local start-lambda` answers Invoke calls for.
    known = {n for f in provider.get_all() for n in (f.name, f.functionname, f.function_id)}
    for function in provider.get_all():
        functions += 1
        declared = (function.environment or {}).get("Variables", {})
        env = runner._make_env_vars(function).resolve()
        for name in sorted(k for k in declared if env.get(k, "") == ""):
            problems.append(f"{function.name}: {name} would be empty")
        for name in invoked_names(env):
            if name not in known:
                problems.append(f"{function.name} invokes `{name}`, which sam local start-lambda does not serve")
        urls = {k: v for k, v in env.items() if k.endswith("_DATABASE_URL") or k.startswith("AWS_ENDPOINT_URL_")}
        print(f"{function.name:<28} {len(declared):>2} variables; " + ", ".join(f"{k}={v}" for k, v in sorted(urls.items())))
    if functions == 0:
        problems.append("SAM found no functions in template.yaml")
    for problem in problems:
        print("FAIL", problem)
    print(f"{functions} functions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
