#!/usr/bin/env python3
"""End-to-end check of the customer flows over HTTP only, against any running
stack: the seed's three customer examples, sign-up from a guest session with the
confirmation mail, login, profile and addresses, isolation between customers,
and the upgrade to VIP with points moving the tier.

usage: customers.py BASE_URL MAIL_DIR
(CUSTOMER_PASSWORD and STAFF_PASSWORD: the fixture accounts' passwords)
"""
import os
import sys
import time

from client import call, check, finish, flow, login, use
import client

use(sys.argv[1])
MAIL_DIR = sys.argv[2]
CUSTOMER_PASSWORD = os.environ.get("CUSTOMER_PASSWORD", "shop-demo-password-1")
STAFF_PASSWORD = os.environ.get("STAFF_PASSWORD", "shop-staff-password-1")
RUN = str(int(time.time() * 1000))


def sign_up(email, guest_token=None):
    return client.sign_up(MAIL_DIR, email, "correct horse 9", guest_token)


flow("the seed's three customer examples")
status, me = call("GET", "/api/customers/")
check("anonymous GET /api/customers/ reaches the guest function", status == 200 and me["customer_type"] == "guest", f"{status} {me}")
hints_123 = {"X-User-ID": "123", "X-Customer-Type": "registered"}
hints_456 = {"X-User-ID": "456", "X-Customer-Type": "vip"}
status, _ = call("GET", "/api/customers/", headers=hints_123)
check("X-User-ID 123 as registered without a token is 401", status == 401, f"{status}")
status, _ = call("GET", "/api/customers/", headers=hints_456)
check("X-User-ID 456 as vip without a token is 401", status == 401, f"{status}")
token_123 = login("customer123@example.com", CUSTOMER_PASSWORD)
status, me = call("GET", "/api/customers/", token=token_123, headers=hints_123)
check("with 123's token the request reaches the registered function", status == 200 and me["customer_type"] == "registered" and me["id"] == "123", f"{status} {me}")
token_456 = login("vip456@example.com", CUSTOMER_PASSWORD)
status, me = call("GET", "/api/customers/", token=token_456, headers=hints_456)
check("with 456's token the request reaches the VIP function", status == 200 and me["customer_type"] == "vip" and me["id"] == "456", f"{status} {me}")
status, _ = call("GET", "/api/customers/", token=token_123, headers=hints_456)
check("hints that disagree with the token are 403", status == 403, f"{status}")

flow("guest browsing, then sign-up keeps the history")
status, session = call("POST", "/api/customers/")
check("a guest session starts", status == 201 and "token" in session, f"{status} {session}")
guest = {"X-Guest-Token": session["token"]}
status, books = call("GET", "/api/books/?page_size=1")
book_id = books["results"][0]["id"]
status, _ = call("POST", "/api/customers/history", {"kind": "viewed_item", "item_type": "laptop", "item_id": book_id}, headers=guest)
check("a viewed item's type must be its id's (422)", status == 422, f"{status}")
status, _ = call("POST", "/api/customers/history", {"kind": "viewed_item", "item_type": "book", "item_id": "book_01JDQ0000000000000000000AA"}, headers=guest)
check("a viewed item must exist (422)", status == 422, f"{status}")
call("POST", "/api/customers/history", {"kind": "viewed_item", "item_type": "book", "item_id": book_id}, headers=guest)
call("POST", "/api/customers/history", {"kind": "search", "query": "dune"}, headers=guest)
status, history = call("GET", "/api/customers/history", headers=guest)
check("the guest's history has both entries", status == 200 and history["count"] == 2, f"{status} {history}")
picked = []
for item_type in ["book", "laptop", "mobile", "clothes"]:
    status, page = call("GET", f"/api/items/?type={item_type}&in_stock=true&min_price=1&page_size=1")
    if status == 200 and page["results"]:
        item = page["results"][0]
        status, cart = call("POST", "/api/cart/items", {"item_type": item_type, "item_id": item["id"], "quantity": 1}, headers=guest)
        if status == 201:
            picked.append(item["id"])
check("the guest puts a book, a laptop, a mobile and clothes in one cart", len(picked) == 4, f"{picked}")
email = f"e2e-{RUN}@example.com"
status, account, verified = sign_up(email, session["token"])
check("sign-up with the guest token is accepted (the same answer whether or not the address has an account)", status == 202 and account.get("email") == email.lower(), f"{status} {account}")
check("the confirmation mail arrives as a file and its token verifies the email", verified)
token = login(email, "correct horse 9")
check("the new customer logs in", token is not None)
status, history = call("GET", "/api/customers/history", token=token)
check("the account's history holds the guest's two entries", status == 200 and history["count"] == 2, f"{status} {history}")
status, _ = call("GET", "/api/customers/", headers=guest)
check("the converted guest token no longer works", status == 401, f"{status}")
status, cart = call("GET", "/api/cart/", token=token)
kept = status == 200 and sorted(line["item_id"] for line in cart["lines"]) == sorted(picked) and cart["subtotal"] > 0
check("the cart came along to the account, with a subtotal in minor units", kept, f"{status} {cart}")

flow("profile and addresses, and another customer cannot touch them")
status, profile = call("PATCH", "/api/customers/profile", {"phone": "+1 415 555 0199", "preferences": {"newsletter": True}}, token=token)
check("the profile changes", status == 200 and profile["preferences"]["newsletter"] is True, f"{status} {profile}")
address = {"recipient": "E2E", "line1": "1 Test Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
status, created = call("POST", "/api/customers/addresses", address, token=token)
check("an address is added and becomes the default", status == 201 and created["is_default_shipping"] is True, f"{status} {created}")
status, updated = call("PATCH", f"/api/customers/addresses/{created['id']}", {"city": "Shelbyville"}, token=token)
check("the address changes", status == 200 and updated["city"] == "Shelbyville", f"{status}")
other = f"e2e-other-{RUN}@example.com"
sign_up(other)
other_token = login(other, "correct horse 9")
status, _ = call("GET", f"/api/customers/addresses/{created['id']}", token=other_token)
check("another customer cannot read it (404)", status == 404, f"{status}")
status, _ = call("DELETE", f"/api/customers/addresses/{created['id']}", token=other_token)
check("another customer cannot delete it (404)", status == 404, f"{status}")
status, _ = call("PATCH", "/api/customers/profile", {"name": 5}, token=token)
check("a wrong field type is 422", status == 422, f"{status}")

flow("upgrade to VIP, then points move the tier")
status, upgraded = call("POST", "/api/customers/upgrade", token=token)
check("the upgrade answers with a VIP record at bronze", status == 200 and upgraded["customer"]["tier"] == "bronze", f"{status} {upgraded}")
vip_token = upgraded.get("access_token") if status == 200 else None
status, me = call("GET", "/api/customers/", token=vip_token)
check("as a VIP: tier bronze, 0 points, bronze benefits", status == 200 and me["tier"] == "bronze" and me["points_balance"] == 0 and me["benefits"] is not None, f"{status} {me}")
relogin = call("POST", "/api/customers/login", {"email": email, "password": "correct horse 9"})[1]
check("the next login returns a vip token", relogin and relogin["customer_type"] == "vip", f"{relogin}")
status, again = call("POST", "/api/customers/upgrade", token=vip_token)
check("upgrading again changes nothing", status == 200 and again["customer"]["tier"] == "bronze", f"{status}")
staff = login("staff@shop.local", STAFF_PASSWORD)
customer_id = me["id"] if me else ""
status, earned = call("POST", f"/api/customers/vip/customers/{customer_id}/points",
                      {"kind": "earn", "points": 2000, "reason": "e2e order", "idempotency_key": f"e2e-{RUN}"}, token=staff)
check("staff earn points past the silver threshold", status in (200, 201) and earned["customer"]["tier"] != "bronze", f"{status} {earned}")
status, _ = call("POST", f"/api/customers/vip/customers/{customer_id}/points",
                 {"kind": "earn", "points": 2000, "reason": "e2e order", "idempotency_key": f"e2e-{RUN}"}, token=vip_token)
check("a customer cannot grant themselves points (403)", status == 403, f"{status}")

finish()
