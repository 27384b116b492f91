#!/usr/bin/env python3
"""End-to-end check over HTTP of what closing an account, changing a password
and restarting the server do, against a fresh local server: a closed account's
token and a token for a subject that never had an account move no money; a
password change revokes the tokens issued before it and must change the
password; a closed VIP's record is no longer served, with its personal data
gone; the VIP views show the account's name as it is now; and what staff
deleted and accounts closed stay gone when the server starts again on the same
data.

usage: accounts.py BASE_URL MAIL_DIR              on a fresh server
       accounts.py BASE_URL MAIL_DIR after-restart   once it was restarted on the same data
(GHOST_TOKEN: a token for a subject with no account, `local token --role
customer --sub ghost`; CUSTOMER_PASSWORD and STAFF_PASSWORD: the fixtures')
"""
import os
import sys
import time

from client import call, check, finish, flow, login, mail_token, sign_up, use

use(sys.argv[1])
MAIL_DIR = sys.argv[2]
AFTER_RESTART = len(sys.argv) > 3 and sys.argv[3] == "after-restart"
CUSTOMER_PASSWORD = os.environ.get("CUSTOMER_PASSWORD", "shop-demo-password-1")
STAFF_PASSWORD = os.environ.get("STAFF_PASSWORD", "shop-staff-password-1")
RUN = str(int(time.time() * 1000))
PASSWORD = "correct horse 9"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
staff = login("staff@shop.local", STAFF_PASSWORD)


def new_customer(name):
    email = f"accounts-{name}-{RUN}@example.com"
    sign_up(MAIL_DIR, email, PASSWORD)
    status, session = call("POST", "/api/customers/login", {"email": email, "password": PASSWORD})
    assert status == 200, f"{status} {session}"
    return email, session


def a_book():
    page = call("GET", "/api/books/?in_stock=true&page_size=1")[1]
    return page["results"][0]["id"]


def add_line(token):
    return call("POST", "/api/cart/items", {"item_type": "book", "item_id": a_book(), "quantity": 1}, token=token)[0]


def checkout(token, name):
    return call("POST", "/api/orders/", {"delivery_option": "pickup"}, token=token,
                headers={"Idempotency-Key": f"accounts-{RUN}-{name}"})


def pay(token, order_id, name):
    return call("POST", "/api/payments/", {"order_id": order_id, "method": "card", "card": CARD}, token=token,
                headers={"Idempotency-Key": f"accounts-{RUN}-{name}"})[0]


if not AFTER_RESTART:
    flow("a closed account's token moves no money")
    _, session = new_customer("closing")
    token = session["access_token"]
    check("a new customer adds a line", add_line(token) == 201)
    status, order = checkout(token, "before-closing")
    check("and checks out", status == 201, f"{status} {order}")
    add_line(token)
    status, _ = call("DELETE", "/api/customers/", {"password": PASSWORD}, token=token)
    check("closing the account answers 204", status == 204, f"{status}")
    check("the old token adds no line (401)", add_line(token) == 401)
    check("nor checks out (401)", checkout(token, "after-closing")[0] == 401)
    check("nor pays the order made before (401)", pay(token, order["id"], "after-closing") == 401)
    check("nor cancels it (401)", call("POST", f"/api/orders/{order['id']}/cancel", token=token)[0] == 401)
    status, cart = call("GET", "/api/cart/", token=token)
    check("the cart went with the account", status == 200 and cart["lines"] == [], f"{status} {cart}")
    status, _ = call("GET", "/api/customers/profile", token=token)
    check("the profile is gone for the old token (401)", status == 401, f"{status}")
    status, found = call("GET", f"/api/orders/{order['id']}", token=staff)
    check("staff still see the order, the shop's record", status == 200, f"{status}")

    flow("a token for a subject that never had an account moves no money")
    ghost = os.environ.get("GHOST_TOKEN")
    if check("GHOST_TOKEN is given", bool(ghost)):
        check("a ghost adds no line (401)", add_line(ghost) == 401)
        check("nor checks out (401)", checkout(ghost, "ghost")[0] == 401)

    flow("a password change revokes earlier tokens and must change the password")
    email, session = new_customer("password")
    old = session["access_token"]
    status, same = call("POST", "/api/customers/password", {"current_password": PASSWORD, "new_password": PASSWORD}, token=old)
    check("the same password again is refused (422)", status == 422, f"{status} {same}")
    status, _ = call("POST", "/api/customers/password", {"current_password": PASSWORD, "new_password": "battery staple 7"}, token=old)
    check("a new password is accepted", status in (200, 204), f"{status}")
    check("the token from before adds no line (401)", add_line(old) == 401)
    check("nor checks out (401)", checkout(old, "revoked")[0] == 401)
    status, _ = call("POST", "/api/customers/token/refresh", {"refresh_token": session["refresh_token"]})
    check("nor does its refresh token work (401)", status == 401, f"{status}")
    fresh = login(email, "battery staple 7")
    check("a login with the new password works where money moves", fresh and add_line(fresh) == 201)

    flow("the VIP views show the account's name as it is now")
    _, session = new_customer("named")
    status, upgraded = call("POST", "/api/customers/upgrade", token=session["access_token"])
    check("a customer upgrades to VIP", status == 200, f"{status} {upgraded}")
    vip = upgraded["access_token"]
    vip_id = session["customer_id"]
    status, _ = call("PATCH", "/api/customers/profile", {"name": "Renamed Member"}, token=vip)
    check("the profile takes a new name", status == 200, f"{status}")
    status, me = call("GET", "/api/customers/", token=vip)
    check("the VIP's own view shows it", status == 200 and me["name"] == "Renamed Member", f"{status} {me}")
    status, record = call("GET", f"/api/customers/vip/customers/{vip_id}", token=staff)
    check("and staff's VIP view", status == 200 and record["name"] == "Renamed Member", f"{status} {record}")
    nameless = f"accounts-nameless-{RUN}@example.com"
    call("POST", "/api/customers/signup", {"email": nameless, "password": PASSWORD})
    call("POST", "/api/customers/verify-email", {"token": mail_token(MAIL_DIR, nameless)})
    status, upgraded = call("POST", "/api/customers/upgrade", token=login(nameless, PASSWORD))
    status, me = call("GET", "/api/customers/", token=upgraded["access_token"])
    check("a VIP without a name shows none, not the email", status == 200 and me["name"] is None, f"{status} {me}")

    flow("a closed VIP's record is no longer served")
    vip456 = login("vip456@example.com", CUSTOMER_PASSWORD)
    status, _ = call("DELETE", "/api/customers/", {"password": CUSTOMER_PASSWORD}, token=vip456)
    check("VIP 456 closes the account", status == 204, f"{status}")
    status, me = call("GET", "/api/customers/", token=vip456)
    check("the old token reads no email or name", status in (401, 404) and not (me or {}).get("email"), f"{status} {me}")
    status, _ = call("GET", "/api/customers/vip/customers/456", token=staff)
    check("staff no longer read the record (404)", status == 404, f"{status}")

    flow("staff delete every mobile (checked again after a restart)")
    page = call("GET", "/api/mobiles/?page_size=100")[1]
    deleted = [call("DELETE", f"/api/mobiles/{m['id']}/", token=staff)[0] for m in page["results"]]
    check("every fixture mobile is deleted", len(deleted) >= 15 and set(deleted) == {204}, f"{deleted}")
    check("the mobiles list is empty", call("GET", "/api/mobiles/")[1]["count"] == 0)
else:
    flow("after a restart on the same data, nothing removed on purpose comes back")
    page = call("GET", "/api/mobiles/")[1]
    check("the deleted mobiles stay deleted", page["count"] == 0, f"{page['count']}")
    status, _ = call("POST", "/api/customers/login", {"email": "vip456@example.com", "password": CUSTOMER_PASSWORD})
    check("the closed account stays closed (401)", status == 401, f"{status}")
    status, _ = call("GET", "/api/customers/vip/customers/456", token=staff)
    check("and its VIP record is not enrolled again (404)", status == 404, f"{status}")
    check("the other fixture customers still log in", bool(login("customer123@example.com", CUSTOMER_PASSWORD)))

finish()
