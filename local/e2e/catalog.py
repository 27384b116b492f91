#!/usr/bin/env python3
"""End-to-end check of the catalog over HTTP only: the seed's item examples and
the fixture counts, against any running stack (local server or cargo lambda watch).

usage: catalog.py BASE_URL   (STAFF_TOKEN and CUSTOMER_TOKEN in the environment)
"""
import json
import os
import pathlib
import sys

from client import call_typed as call, check, finish, flow, use

use(sys.argv[1])
STAFF = os.environ["STAFF_TOKEN"]
CUSTOMER = os.environ["CUSTOMER_TOKEN"]
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "items"
TYPES = {"book": "books", "laptop": "laptops", "mobile": "mobiles", "clothes": "clothes"}


flow("the fixture catalog through the items router and the item functions")
fixture_counts = {t: len(json.loads((FIXTURES / f"{plural}.json").read_text())) for t, plural in TYPES.items()}

status, _, page = call("GET", "/api/items/")
check("GET /api/items/ lists every fixture item across all types",
      status == 200 and page["count"] == sum(fixture_counts.values()) and page["unavailable"] == [],
      f"{status} {page and page.get('count')} {page and page.get('unavailable')}")
for item_type, expected in fixture_counts.items():
    status, _, page = call("GET", f"/api/items/?type={item_type}")
    only = status == 200 and all(r["type"] == item_type for r in page["results"])
    check(f"GET /api/items/?type={item_type} returns only the {expected} {item_type} items",
          only and page["count"] == expected, f"{status} {page and page.get('count')}")
    status, _, direct = call("GET", f"/api/{TYPES[item_type]}/")
    check(f"GET /api/{TYPES[item_type]}/ answers directly", status == 200 and direct["count"] == expected, f"{status}")

flow("the seed's item examples: staff create a book and clothes")
for body, plural in [
    ({"name": "Clean Code", "type": "book", "author": "Robert Martin", "isbn": "9780132350884"}, "books"),
    ({"name": "Summer T-Shirt", "type": "clothes", "size": "L", "color": "Blue", "material": "Cotton"}, "clothes"),
]:
    status, _, created = call("POST", "/api/items/", body, STAFF)
    check(f"seed example POST /api/items/ ({body['type']}) creates it", status == 201, f"{status} {created}")
    if status == 201:
        item_id = created["id"]
        status, _, read = call("GET", f"/api/items/{item_id}/")
        check(f"  ... readable at /api/items/{{id}}/", status == 200 and read["id"] == item_id, f"{status}")
        status, _, read = call("GET", f"/api/{plural}/{item_id}/")
        check(f"  ... readable at /api/{plural}/{{id}}/", status == 200 and read["name"] == body["name"], f"{status}")

flow("bad requests get problem responses and change nothing")
status, content_type, problem = call("POST", "/api/items/", {"name": "X", "type": "book", "author": "Y"})
check("POST without a token is 401 problem+json", status == 401 and content_type.startswith("application/problem+json"), f"{status}")
status, _, _ = call("POST", "/api/items/", {"name": "X", "type": "book", "author": "Y"}, CUSTOMER)
check("POST with a customer token is 403", status == 403, f"{status}")
status, _, problem = call("POST", "/api/items/", {"name": "X", "type": "book", "author": "Y", "isbn": "9780132350885"}, STAFF)
check("an invalid ISBN is 422 naming isbn", status == 422 and "isbn" in problem.get("errors", {}), f"{status} {problem}")
status, _, problem = call("GET", "/api/items/?type=toy")
check("an unknown type is 400 naming the supported types", status == 400 and "book" in problem["detail"], f"{status}")
status, _, _ = call("POST", "/api/items/", b'{"name": ', STAFF)
check("malformed JSON is 400", status == 400, f"{status}")
status, _, problem = call("POST", "/api/items/", {"name": "X", "type": "laptop", "brand": "B", "ram_gb": "lots"}, STAFF)
check("a wrong field type is 422 naming the field", status == 422 and "ram_gb" in problem.get("errors", {}), f"{status} {problem}")
status, _, _ = call("GET", "/api/items/?type=book&page_size=1000")
check("an oversized page size is 400", status == 400, f"{status}")

finish()
