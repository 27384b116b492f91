"""What every end-to-end script shares: JSON over HTTP with the standard library
only, named checks that print `ok`/`FAIL` lines, and the customer steps several
flows start with (sign-up with the mailed token, login)."""
import json
import pathlib
import re
import sys
import time
import urllib.error
import urllib.request

BASE = ""
passed = failed = 0


def use(base_url):
    global BASE
    BASE = base_url.rstrip("/")


def call_typed(method, path, body=None, token=None, headers=None, content_type="application/json"):
    """(status, Content-Type, JSON body or None)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            return response.status, response.headers.get("Content-Type", ""), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers.get("Content-Type", ""), json.loads(raw) if raw else None


def call(method, path, body=None, token=None, headers=None):
    """(status, JSON body or None)."""
    status, _, payload = call_typed(method, path, body, token, headers)
    return status, payload


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name} {detail}")
    return condition


def flow(name):
    print(f"flow: {name}")


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def login(email, password):
    status, body = call("POST", "/api/customers/login", {"email": email, "password": password})
    return body["access_token"] if status == 200 else None


def mail_token(mail_dir, email):
    for _ in range(50):
        for path in sorted(pathlib.Path(mail_dir).glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            text = path.read_text()
            if f"To: {email}" in text:
                match = re.search(r"token=([A-Za-z0-9_-]+)", text)
                if match:
                    return match.group(1)
        time.sleep(0.1)
    return None


def sign_up(mail_dir, email, password, guest_token=None):
    """(status, account, verified): signs up, then verifies with the mailed token."""
    headers = {"X-Guest-Token": guest_token} if guest_token else {}
    status, account = call("POST", "/api/customers/signup", {"email": email, "password": password, "name": "E2E " + email}, headers=headers)
    token = mail_token(mail_dir, email)
    verified = bool(token) and call("POST", "/api/customers/verify-email", {"token": token})[0] == 200
    return status, account, verified
