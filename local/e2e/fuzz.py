#!/usr/bin/env python3
"""Schemathesis against a running shop, once per role: anonymous, guest,
customer, VIP and staff. Each run generates requests from the server's own
`/api/openapi.json` (examples, coverage, fuzzing and stateful phases) and fails
on any 5xx, any answer the document does not describe, and any request the
document allows that is refused (or forbids that is accepted).

usage: fuzz.py BASE_URL
Environment: FUZZ_SEED (a fixed default), FUZZ_MAX_EXAMPLES (per operation and
phase), FUZZ_ROLES (comma-separated subset), FUZZ_WORKERS (2), LOCAL_BIN (the
`local` binary that mints the role tokens; target/debug/local), LOCAL_DATA_DIR
(the server's, where the binary reads the accounts' token versions),
CUSTOMER_PASSWORD and STAFF_PASSWORD (the fixture accounts' passwords).

Settings shared by every role are in schemathesis.toml next to this script;
this script adds the role's credentials and the fixture ids it can reach, so
generated requests also hit records that exist.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BASE = sys.argv[1].rstrip("/") if len(sys.argv) == 2 else sys.exit(__doc__)
SEED = os.environ.get("FUZZ_SEED", "20261125")
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
WORKERS = os.environ.get("FUZZ_WORKERS", "2")
ROLES = [r for r in os.environ.get("FUZZ_ROLES", "anonymous,guest,customer,vip,staff").split(",") if r]
CUSTOMER_PASSWORD = os.environ.get("CUSTOMER_PASSWORD", "shop-demo-password-1")
STAFF_PASSWORD = os.environ.get("STAFF_PASSWORD", "shop-staff-password-1")
# Fixture accounts: a registered customer with orders, a VIP, staff.
CUSTOMER_ID = "123"
VIP_EMAIL = "vip456@example.com"
VIP_ID = "456"
STAFF_EMAIL = "staff@shop.local"
STAFF_ID = "cust_01KG9MFMM0WES27JCBME9VNM3Z"


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def expect(what, status, body, wanted=200):
    if status != wanted:
        sys.exit(f"fuzz: cannot {what}: {status} {body}")
    return body


def login(email, password):
    body = expect(f"log in as {email}", *call("POST", "/api/customers/login", {"email": email, "password": password}))
    return body["access_token"]


def minted(*args):
    """A development token from the `local` binary, or None without it. It reads
    the account's token version from the store LOCAL_DATA_DIR names, as the
    server does (give the server's LOCAL_DATA_DIR)."""
    binary = pathlib.Path(os.environ.get("LOCAL_BIN", ROOT / "target" / "debug" / "local"))
    if not binary.exists():
        return None
    command = [str(binary), "token", *args, "--ttl", "3600"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def token_for(role):
    """The role's token, minted where the binary is: every role's is made before
    the first run starts, and a login's access token may expire before the last
    role's run (TOKEN_TTL_SECS); and the fuzzer may upgrade the customer to VIP,
    after which a login would answer a VIP token."""
    if role == "customer":
        return minted("--role", "customer", "--sub", CUSTOMER_ID, "--type", "registered") \
            or login("customer123@example.com", CUSTOMER_PASSWORD)
    if role == "vip":
        return minted("--role", "customer", "--sub", VIP_ID, "--type", "vip") or login(VIP_EMAIL, CUSTOMER_PASSWORD)
    return minted("--role", "staff", "--sub", STAFF_ID) or login(STAFF_EMAIL, STAFF_PASSWORD)


def ids(path, headers=None, field="id"):
    status, body = call("GET", path, headers=headers)
    if status != 200:
        return []
    return [r[field] for r in body["results"] if r.get(field)]


def credentials(role):
    """(auth config lines, headers for looking up ids, the role's own guest session id)."""
    if role == "anonymous":
        return [], {}, None
    if role == "guest":
        session = expect("start a guest session", *call("POST", "/api/customers/"), wanted=201)
        return ['[auth.openapi.guest_token]', f'api_key = "{session["token"]}"'], \
            {"X-Guest-Token": session["token"]}, session["id"]
    token = token_for(role)
    return ['[auth.openapi.bearer]', f'bearer = "{token}"'], {"Authorization": f"Bearer {token}"}, None


def fixture_values(role, headers, guest_id):
    """Ids of records the role can reach (or, for the others, can be refused)."""
    items = {kind: ids(f"/api/items/?type={kind}&page_size=5") for kind in ("book", "laptop", "mobile", "clothes")}
    staff = {"Authorization": f"Bearer {login(STAFF_EMAIL, STAFF_PASSWORD)}"}
    # Other roles' records too: a customer must get 404 for someone else's order.
    orders = ids("/api/orders/?page_size=5", headers) + ids("/api/orders/?page_size=3", staff)
    shipments = ids("/api/shipping/?page_size=5", staff)
    if guest_id is None:
        guest_id = expect("start a guest session", *call("POST", "/api/customers/"), wanted=201)["id"]
    return {
        "books": items["book"], "laptops": items["laptop"], "mobiles": items["mobile"], "clothes": items["clothes"],
        "items": sum(items.values(), []),
        "guests": [guest_id],
        "orders": orders,
        "payments": ids("/api/payments/?page_size=5", headers) + ids("/api/payments/?page_size=3", staff),
        "shipments": shipments,
        "tracking": ids("/api/shipping/?page_size=5", staff, field="tracking_number"),
        "addresses": ids("/api/customers/addresses", headers) if role == "customer" else [],
        "customers": [CUSTOMER_ID, VIP_ID],
        "isbns": ids("/api/books/?page_size=20", field="isbn"),
        # Test cards the simulated processor authorizes or declines (never its always-failing one).
        "cards": ["4242 4242 4242 4242", "4000000000000002", "4000-0000-0000-0259", "4000000000009995"],
    }


# Which operations take which fixture values: (path regex, parameter, dictionary,
# how often). ISBN and card check digits are not something a schema can state,
# so those always come from the lists; ids are real half the time.
BINDINGS = [
    (r"^/api/(books|items)/", "body.isbn", "isbns", 1.0),
    (r"^/api/books/$", "query.isbn", "isbns", 1.0),
    (r"^/api/payments/$", "body.card.number", "cards", 1.0),
    (r"^/api/books/\{id\}/$", "path.id", "books", 0.5),
    (r"^/api/laptops/\{id\}/$", "path.id", "laptops", 0.5),
    (r"^/api/mobiles/\{id\}/$", "path.id", "mobiles", 0.5),
    (r"^/api/clothes/\{id\}/$", "path.id", "clothes", 0.5),
    (r"^/api/items/\{id\}/$", "path.id", "items", 0.5),
    (r"^/api/cart/items/\{item_id\}$", "path.item_id", "items", 0.5),
    (r"^/api/cart/items$", "body.item_id", "items", 0.5),
    (r"^/api/guest-customer/\{id\}/", "path.id", "guests", 0.5),
    (r"^/api/orders/\{id\}", "path.id", "orders", 0.5),
    (r"^/api/payments/$", "body.order_id", "orders", 0.5),
    (r"^/api/payments/\{id\}", "path.id", "payments", 0.5),
    (r"^/api/shipping/\{id\}", "path.id", "shipments", 0.5),
    (r"^/api/shipping/track/", "path.tracking_number", "tracking", 0.5),
    (r"^/api/customers/addresses/\{id\}$", "path.id", "addresses", 0.5),
    (r"^/api/customers/accounts/\{id\}$", "path.id", "customers", 0.5),
    (r"^/api/customers/vip/customers/\{id\}", "path.id", "customers", 0.5),
]


def toml_string(value):
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def config_for(role, auth, values):
    lines = [(HERE / "schemathesis.toml").read_text(), ""]
    lines += auth + [""]
    for name, entries in values.items():
        if entries:
            lines += [f"[dictionaries.{name}]", f"values = [{', '.join(toml_string(v) for v in entries)}]", ""]
    by_path = {}
    for path, parameter, dictionary, probability in BINDINGS:
        if values.get(dictionary):
            by_path.setdefault(path, []).append(
                f'"{parameter}" = {{ dictionary = "{dictionary}", probability = {probability} }}')
    for path, parameters in by_path.items():
        lines += ["[[operations]]", f"include-path-regex = {toml_string(path)}",
                  f"parameters = {{ {', '.join(parameters)} }}", ""]
    return "\n".join(lines)


def schemathesis():
    found = shutil.which("schemathesis")
    return found or str(pathlib.Path(sysconfig.get_path("scripts")) / "schemathesis")


def prepare(role, workdir):
    """The role's schemathesis config, written before any fuzzing starts: the
    fuzzer's failed logins, all from this one address, soon meet the login
    limits (429), and must not keep a later role from logging in."""
    auth, headers, guest_id = credentials(role)
    config = workdir / f"{role}.toml"
    config.write_text(config_for(role, auth, fixture_values(role, headers, guest_id)))
    return config


def run(role, config, workdir):
    command = [
        schemathesis(), "--config-file", str(config), "--no-color", "run", f"{BASE}/api/openapi.json",
        "--seed", SEED, "--max-examples", MAX_EXAMPLES, "--workers", WORKERS, "--generation-database", "none",
    ]
    print(f"--- {role}: {' '.join(command[3:])}", flush=True)
    started = time.monotonic()
    for attempt in (1, 2):
        result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
        output = result.stdout + result.stderr
        # An error of the tool itself with no failure found (Hypothesis has been seen
        # to trip over CPython 3.11's AST recursion check) says nothing about the
        # API: run the role once more. A second one, or any failure, fails the run.
        tool_error_only = re.search(r"^Errors:", output, re.M) and not re.search(r"^Failures:", output, re.M)
        if result.returncode == 0 or not tool_error_only or attempt == 2:
            break
        print(output)
        print(f"--- {role}: schemathesis itself failed (no API failure found); running the role again", flush=True)
    cases = re.search(r"(\d+) generated", output)
    count = int(cases.group(1)) if cases else 0
    if result.returncode != 0:
        print(output)
    else:
        print("\n".join(output.rstrip().splitlines()[-4:]))
    print(f"--- {role}: {count} test cases generated, {time.monotonic() - started:.0f} s, "
          f"{'passed' if result.returncode == 0 else 'FAILED'}", flush=True)
    return count, result.returncode == 0


def main():
    started = time.monotonic()
    totals, failed = {}, []
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        workdir = pathlib.Path(tmp)
        configs = {role: prepare(role, workdir) for role in ROLES}
        for role in ROLES:
            totals[role], ok = run(role, configs[role], workdir)
            if not ok:
                failed.append(role)
    print("\nschemathesis test cases per role:")
    for role, count in totals.items():
        print(f"  {role:<10} {count:>7}{'   FAILED' if role in failed else ''}")
    print(f"  {'total':<10} {sum(totals.values()):>7}   ({time.monotonic() - started:.0f} s, seed {SEED}, "
          f"max examples {MAX_EXAMPLES})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
