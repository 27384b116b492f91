#!/usr/bin/env python3
"""End-to-end check of the shop's main flow over HTTP only, against any running
stack: browse, fill a guest cart with all four item types, sign up (the cart
comes along), check out, pay with the test cards, ship and deliver as staff;
then a VIP order with the tier's discount, free shipping and points; then a
cancellation that puts the stock back.

usage: shop.py BASE_URL MAIL_DIR
(CUSTOMER_PASSWORD and STAFF_PASSWORD: the fixture accounts' passwords)
"""
import os
import sys
import time

from client import call, check, finish, flow, login, sign_up, use

use(sys.argv[1])
MAIL_DIR = sys.argv[2]
CUSTOMER_PASSWORD = os.environ.get("CUSTOMER_PASSWORD", "shop-demo-password-1")
STAFF_PASSWORD = os.environ.get("STAFF_PASSWORD", "shop-staff-password-1")
RUN = str(int(time.time() * 1000))
ADDRESS = {"name": "E2E Buyer", "line1": "1 Test Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
GOOD_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
DECLINED_CARD = {"number": "4000000000000002", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
staff = login("staff@shop.local", STAFF_PASSWORD)


def key(name):
    return {"Idempotency-Key": f"e2e-{RUN}-{name}"}


def stock_of(item_id):
    status, item = call("GET", f"/api/items/{item_id}/")
    return item["stock"] if status == 200 else None


def in_stock_item(item_type, minimum=3):
    status, page = call("GET", f"/api/items/?type={item_type}&in_stock=true&min_price=1&page_size=50")
    if status != 200:
        return None
    return next((item for item in page["results"] if item["stock"] >= minimum), None)


def deliver(shipment_id):
    """Staff move a shipment through the carrier's statuses; the answers' codes."""
    codes = []
    for status in ["in_transit", "out_for_delivery", "delivered"]:
        code, _ = call("POST", f"/api/shipping/{shipment_id}/events", {"status": status, "location": "Springfield hub"}, token=staff)
        codes.append(code)
    return codes


flow("browse, guest cart with all four types, sign-up keeps the cart")
items = {t: in_stock_item(t) for t in ["book", "laptop", "mobile", "clothes"]}
check("each of the four types has an item in stock with a price", all(items.values()), f"{items}")
status, session = call("POST", "/api/customers/")
guest = {"X-Guest-Token": session["token"]} if status == 201 else {}
added = [call("POST", "/api/cart/items", {"item_type": t, "item_id": i["id"], "quantity": 1}, headers=guest)[0] for t, i in items.items() if i]
check("the guest adds a book, a laptop, a mobile and clothes", added == [201] * 4, f"{added}")
email = f"shop-{RUN}@example.com"
status, _, verified = sign_up(MAIL_DIR, email, "correct horse 9", session.get("token"))
token = login(email, "correct horse 9")
check("the guest signs up, verifies the email and logs in", status == 202 and verified and token is not None, f"{status}")
status, cart = call("GET", "/api/cart/", token=token)
check("the cart came along with four lines", status == 200 and len(cart["lines"]) == 4, f"{status} {cart}")

flow("checkout reserves stock and is idempotent")
before = {i["id"]: stock_of(i["id"]) for i in items.values() if i}
status, options = call("GET", "/api/orders/delivery-options")
standard = next((o for o in (options or {}).get("options", options or []) if o.get("id", o.get("name")) == "standard"), None) if status == 200 else None
check("delivery options list standard, express and pickup", standard is not None, f"{status} {options}")
status, _ = call("POST", "/api/orders/", {"delivery_option": "standard", "shipping_address": ADDRESS}, token=token)
check("checkout without an Idempotency-Key is 400", status == 400, f"{status}")
status, _ = call("POST", "/api/orders/", {"delivery_option": "teleport", "shipping_address": ADDRESS}, token=token, headers=key("bad"))
check("an unknown delivery option is 422", status == 422, f"{status}")
body = {"delivery_option": "standard", "shipping_address": ADDRESS}
status, order = call("POST", "/api/orders/", body, token=token, headers=key("order-1"))
ok = status == 201 and order["status"] == "pending_payment" and len(order["lines"]) == 4
check("checkout creates a pending_payment order of four lines", ok, f"{status} {order}")
order = order if ok else {}
subtotal = sum(line["line_total"] for line in order.get("lines", []))
check("totals add up in minor units: subtotal + shipping = total",
      order.get("subtotal") == subtotal and order.get("discount") == 0 and order.get("total") == subtotal + order.get("shipping_fee", -1) and isinstance(order.get("total"), int),
      f"{order}")
status, again = call("POST", "/api/orders/", body, token=token, headers=key("order-1"))
check("the same Idempotency-Key returns the same order", status in (200, 201) and again.get("id") == order.get("id"), f"{status} {again}")
status, _ = call("POST", "/api/orders/", {"delivery_option": "express", "shipping_address": ADDRESS}, token=token, headers=key("order-1"))
check("the same key with another body is 409", status == 409, f"{status}")
after = {item_id: stock_of(item_id) for item_id in before}
check("each item's stock went down by exactly one", all(after[i] == before[i] - 1 for i in before), f"{before} {after}")
status, cart = call("GET", "/api/cart/", token=token)
check("the cart is empty after checkout", status in (200, 404) and (status == 404 or cart["lines"] == []), f"{status} {cart}")
sign_up(MAIL_DIR, f"shop-other-{RUN}@example.com", "correct horse 9")
other = login(f"shop-other-{RUN}@example.com", "correct horse 9")
status, _ = call("GET", f"/api/orders/{order.get('id')}", token=other)
check("another customer cannot see the order (404)", status == 404, f"{status}")
status, page = call("GET", "/api/orders/", token=token)
check("the customer's order list has it", status == 200 and any(o["id"] == order.get("id") for o in page["results"]), f"{status}")

flow("payment: a declined card, then the succeeding card")
status, problem = call("POST", "/api/payments/", {"order_id": order.get("id"), "method": "card", "card": DECLINED_CARD}, token=token, headers=key("pay-declined"))
check("the declining test card is 402", status == 402, f"{status} {problem}")
status, _ = call("POST", "/api/payments/", {"order_id": order.get("id"), "method": "card", "card": GOOD_CARD}, token=other, headers=key("pay-other"))
check("another customer cannot pay for the order (404)", status == 404, f"{status}")
pay = {"order_id": order.get("id"), "method": "card", "card": GOOD_CARD}
status, payment = call("POST", "/api/payments/", pay, token=token, headers=key("pay-1"))
check("the succeeding test card authorizes the order total", status == 201 and payment["state"] == "authorized" and payment["amount"] == order.get("total"), f"{status} {payment}")
check("the payment shows the card's last four digits only", status == 201 and payment["card"]["last4"] == "4242" and "4242424242424242" not in str(payment), f"{payment}")
status, replay = call("POST", "/api/payments/", pay, token=token, headers=key("pay-1"))
check("paying again with the same key returns the same payment", status == 201 and replay.get("id") == payment.get("id"), f"{status} {replay}")
status, paid = call("GET", f"/api/orders/{order.get('id')}", token=token)
check("the order is paid", status == 200 and paid["status"] == "paid", f"{status} {paid}")

flow("shipping: shipment created, public tracking, staff deliver")
status, shipments = call("GET", f"/api/shipping/?order_id={order.get('id')}", token=token)
shipment = shipments["results"][0] if status == 200 and shipments["results"] else {}
check("the payment created the order's shipment with a tracking number", shipment.get("status") == "label_created" and shipment.get("tracking_number"), f"{status} {shipments}")
status, tracking = call("GET", f"/api/shipping/track/{shipment.get('tracking_number')}")
check("public tracking shows the events but no address", status == 200 and tracking["events"] and "shipping_address" not in tracking and "Test Street" not in str(tracking), f"{status} {tracking}")
status, _ = call("POST", f"/api/shipping/{shipment.get('id')}/events", {"status": "in_transit"}, token=token)
check("a customer cannot post shipment events (403)", status == 403, f"{status}")
codes = deliver(shipment.get("id"))
check("staff move the shipment to delivered", codes == [201, 201, 201], f"{codes}")
status, done = call("GET", f"/api/orders/{order.get('id')}", token=token)
check("the order is delivered", status == 200 and done["status"] == "delivered", f"{status} {done}")
status, captured = call("GET", f"/api/payments/{payment.get('id')}", token=token)
check("the card payment was captured when the shipment left", status == 200 and captured["state"] == "captured", f"{status} {captured}")

flow("a VIP order: tier discount, free shipping where the tier gives it, points redeemed and earned")
vip = login("vip456@example.com", CUSTOMER_PASSWORD)
status, me = call("GET", "/api/customers/", token=vip)
check("the fixture VIP logs in", status == 200 and me["customer_type"] == "vip", f"{status} {me}")
laptop = in_stock_item("laptop")
call("DELETE", "/api/cart/", token=vip)
status, _ = call("POST", "/api/cart/items", {"item_type": "laptop", "item_id": laptop["id"], "quantity": 1}, token=vip)
redeem = min(100, me.get("points_balance", 0))
status, vip_order = call("POST", "/api/orders/", {"delivery_option": "express", "shipping_address": ADDRESS, "redeem_points": redeem}, token=vip, headers=key("vip-order"))
benefits = me.get("benefits", {})
expected_discount = laptop["price"] * benefits.get("discount_percent", 0) // 100
expected_fee = 0 if benefits.get("free_shipping") else 1499
ok = status == 201 and vip_order["discount"] == expected_discount and vip_order["shipping_fee"] == expected_fee and vip_order["points_redeemed"] == redeem
check(f"the {me.get('tier')} tier's discount and shipping apply and {redeem} points are redeemed", ok, f"{status} {vip_order} {benefits}")
check("total = subtotal - discount + shipping - points",
      status == 201 and vip_order["total"] == vip_order["subtotal"] - vip_order["discount"] + vip_order["shipping_fee"] - vip_order["points_redeemed"], f"{vip_order}")
status, vip_payment = call("POST", "/api/payments/", {"order_id": vip_order.get("id"), "method": "wallet", "wallet": {"email": "vip456@example.com"}}, token=vip, headers=key("vip-pay"))
check("the wallet payment is captured at once", status == 201 and vip_payment["state"] == "captured", f"{status} {vip_payment}")
status, shipments = call("GET", f"/api/shipping/?order_id={vip_order.get('id')}", token=vip)
vip_shipment = shipments["results"][0] if status == 200 and shipments["results"] else {}
check("express ships with the express carrier", vip_shipment.get("method") == "express", f"{vip_shipment}")
deliver(vip_shipment.get("id"))
status, after_me = call("GET", "/api/customers/", token=vip)
earned = vip_order.get("total", 0) // 100 * benefits.get("points_multiplier_percent", 100) // 100
check(f"delivery earns {earned} points at the tier's multiplier",
      status == 200 and after_me["points_balance"] == me.get("points_balance", 0) - redeem + earned and after_me["lifetime_points"] == me.get("lifetime_points", 0) + earned,
      f"{me.get('points_balance')} -> {after_me.get('points_balance')}, tier {me.get('tier')} -> {after_me.get('tier')}")

flow("cancellation puts the stock back")
book = in_stock_item("book")
call("POST", "/api/cart/items", {"item_type": "book", "item_id": book["id"], "quantity": 2}, token=token)
before = stock_of(book["id"])
status, to_cancel = call("POST", "/api/orders/", {"delivery_option": "pickup"}, token=token, headers=key("cancel-me"))
check("a pickup order needs no address", status == 201 and to_cancel["shipping_fee"] == 0, f"{status} {to_cancel}")
check("checkout took two from stock", stock_of(book["id"]) == before - 2)
status, _ = call("POST", f"/api/orders/{to_cancel.get('id')}/cancel", token=other)
check("another customer cannot cancel it (404)", status == 404, f"{status}")
status, cancelled = call("POST", f"/api/orders/{to_cancel.get('id')}/cancel", token=token)
check("the owner cancels it", status == 200 and cancelled["status"] == "cancelled", f"{status} {cancelled}")
check("the two are back in stock", stock_of(book["id"]) == before)
status, _ = call("POST", "/api/payments/", {"order_id": to_cancel.get("id"), "method": "cash_on_delivery"}, token=token, headers=key("pay-cancelled"))
check("a cancelled order cannot be paid (409)", status == 409, f"{status}")

finish()
