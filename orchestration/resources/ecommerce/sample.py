"""Deterministic sample exports for the e-commerce lake: a day's orders CSVs, web server logs
and social posts, with the quirks real exports have.

Seeded by the day (random.Random hashes a string seed with SHA-512, stable across processes),
so a re-run writes identical bytes. Quirks on every day: a UTF-8 BOM and CRLF in one export,
quoted commas, quotes and a quoted newline, a negative quantity, an unparseable date, a line
repeated in one file, a truncated log line, posts with missing and extra fields, a malformed
NDJSON line and a post without an id.
"""

import csv
import gzip
import io
import json
import random
from datetime import UTC, date, datetime, timedelta, timezone

CAMPAIGNS = [f"C{i:03d}" for i in range(1, 9)]
AD_ORDERS = 300  # orders O-<day>-00001..00300 carry the campaign their ad conversions name
# (product id, name, category, unit price in EUR)
PRODUCTS = [
    ("P-1001", "Coffee mug, large", "kitchen", 12.5),
    ("P-1002", "Espresso cups (set of 4)", "kitchen", 24.0),
    ("P-2001", 'Vinyl record 12" - "Blue"', "music", 29.99),
    ("P-2002", "Headphones", "electronics", 89.0),
    ("P-2003", "USB-C cable, 2 m", "electronics", 9.9),
    ("P-3001", "Running shoes", "sports", 119.0),
    ("P-3002", "Yoga mat", "sports", 35.0),
    ("P-4001", "Notebook A5, dotted", "stationery", 7.5),
    ("P-4002", "Fountain pen", "stationery", 45.0),
    ("P-5001", "Linen shirt", "fashion", 59.0),
]
STATUSES = ["placed", "paid", "shipped", "delivered", "cancelled", "returned"]
PATHS = ["/", "/products", "/products/P-1001", "/products/P-2002", "/cart", "/checkout", "/search?q=mug", "/about"]
PLATFORMS = ["twitter", "instagram", "tiktok", "facebook"]
HASHTAGS = ["sale", "newin", "coffee", "vinyl", "running", "yoga", "blackfriday", "gift"]
ORDER_HEADER = [
    "order_id",
    "order_line",
    "customer_id",
    "customer_email",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "ordered_at",
    "status",
    "campaign_id",
]


def _moment(rng: random.Random, day: date) -> datetime:
    # 02:00-22:00 UTC: an offset of up to two hours keeps the instant on the same UTC day.
    start = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(20 * 3600))


def _iso(moment: datetime, rng: random.Random) -> str:
    hours = rng.choice([0, 0, 1, 2, -1])
    if hours == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


def order_rows(day: date, orders: int = 600) -> list[list[str]]:
    rng = random.Random(f"orders:{day.isoformat()}")
    rows = []
    for n in range(1, orders + 1):
        order_id = f"O-{day:%Y%m%d}-{n:05d}"
        customer = rng.randrange(1, 2000)
        email = f"customer{customer}@example.{rng.choice(['com', 'org', 'net'])}"
        if rng.random() < 0.1:
            email = f" Customer{customer}@Example.com "  # typed differently: the same pseudonym
        moment, drawn = _moment(rng, day), rng.choice(CAMPAIGNS) if rng.random() < 0.4 else ""
        # The day's first orders came through the ad campaigns: the ad stream's sample converts to
        # exactly these (orchestration/resources/ads/sample.py order_campaign), so attribution joins.
        campaign = CAMPAIGNS[(n - 1) % len(CAMPAIGNS)] if n <= AD_ORDERS else drawn
        status = rng.choice(STATUSES)
        for line in range(1, rng.randint(1, 4) + 1):
            product_id, name, category, price = rng.choice(PRODUCTS)
            row = [order_id, str(line), f"K{customer:05d}", email, product_id, name, category]
            row += [str(rng.randint(1, 3)), f"{price:.2f}", "EUR", _iso(moment, rng), status, campaign]
            rows.append(row)
    rows[7][7] = "-2"  # a negative quantity
    rows[19][10] = "20/11/2026 14:03"  # an unparseable date
    rows[31][5] = "Gift card\nwith a note"  # a quoted newline inside a field
    return rows


def _csv_bytes(rows: list[list[str]], bom: bool, newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(ORDER_HEADER)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode()


def order_files(day: date) -> dict[str, bytes]:
    rows = order_rows(day)
    half = len(rows) // 2
    web, store = rows[:half], rows[half:]
    web.insert(12, list(web[11]))  # one line exported twice
    store_text = _csv_bytes(store, bom=False, newline="\n").decode()
    lines = store_text.split("\n")
    lines[5] = ",".join(lines[5].split(",")[:6])  # a record cut short: too few fields
    return {
        "orders_web.csv": _csv_bytes(web, bom=True, newline="\r\n"),
        "orders_store.csv": "\n".join(lines).encode(),
    }


def log_lines(day: date, requests: int = 6000) -> list[str]:
    rng = random.Random(f"weblogs:{day.isoformat()}")
    visitors = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"]
    visitors += [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(400)]
    lines = []
    for _ in range(requests):
        moment = _moment(rng, day).strftime("%d/%b/%Y:%H:%M:%S +0000")
        status = rng.choices([200, 301, 304, 404, 500, 503], [80, 4, 6, 7, 2, 1])[0]
        path, size = rng.choice(PATHS), rng.randrange(200, 90_000) if status == 200 else 0
        agent = rng.choice(["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (iPhone)", "curl/8.5.0"])
        referrer = rng.choice(["-", "https://www.google.com/", "https://shop.example.com/"])
        size_text = str(size) if size else "-"
        lines.append(
            f'{rng.choice(visitors)} - - [{moment}] "GET {path} HTTP/1.1" {status} {size_text} "{referrer}" "{agent}"'
        )
    lines[100] = lines[100][:40]  # a line cut short by a log rotation
    return lines


def log_files(day: date) -> dict[str, bytes]:
    lines = log_lines(day)
    half = len(lines) // 2
    return {
        "access.log": ("\n".join(lines[:half]) + "\n").encode(),
        "access-2.log.gz": gzip.compress(("\n".join(lines[half:]) + "\n").encode(), mtime=0),
    }


def posts(day: date, count: int = 300) -> list[dict]:
    rng = random.Random(f"social:{day.isoformat()}")
    out = []
    for n in range(1, count + 1):
        tags = rng.sample(HASHTAGS, rng.randint(0, 3))
        mentions = ["@airstream_shop"] if rng.random() < 0.6 else []
        out.append(
            {
                "id": f"S-{day:%Y%m%d}-{n:04d}",
                "platform": rng.choice(PLATFORMS),
                "author": f"user{rng.randrange(5000)}",
                "created_at": _moment(rng, day).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "text": " ".join(["Loving it!", *(f"#{t}" for t in tags), *mentions]),
                "lang": rng.choice(["en", "de", "fr"]),
                "likes": rng.randrange(0, 500),
                "shares": rng.randrange(0, 50),
                "mentions": mentions,
                "hashtags": tags,
            }
        )
    for field in ("lang", "likes", "shares", "mentions"):
        del out[3][field]  # a post with missing optional fields
    out[4]["geo"] = {"lat": 48.1, "lon": 11.6}  # an extra field
    del out[5]["id"]  # no id: quarantined
    return out


def social_files(day: date) -> dict[str, bytes]:
    documents = posts(day)
    half = len(documents) // 2
    ndjson = [json.dumps(d) for d in documents[half:]]
    ndjson.insert(3, '{"id": "S-broken", "platform": "twitter", "text": "cut')  # malformed
    return {
        "posts.json": json.dumps(documents[:half], indent=1).encode(),
        "posts-stream.json": ("\n".join(ndjson) + "\n").encode(),
    }


def sample_files(source: str, day: date) -> dict[str, bytes]:
    return {"transactions": order_files, "weblogs": log_files, "social": social_files}[source](day)
