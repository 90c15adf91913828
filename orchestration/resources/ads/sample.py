"""A deterministic day of ad events (impressions, clicks, conversions), seeded by the day.

There is no public ad API to pull from; this stands in for an ad server's event export, at a
realistic volume (about 20,000 impressions, 2 % of them clicked, 5 % of clicks converting) and
with the faults a real export has, one of each per day:

- a duplicate: one click sent twice, byte for byte (at-least-once delivery);
- a late event: an impression of the previous day, published with today's events;
- a malformed event (no event_id, cost as text): the topic contract dead-letters it;
- a negative cost, an unknown event type, a missing campaign id, an unparseable timestamp:
  they pass the contract (it checks shapes, not meanings) and the clean step quarantines them;
- an event of a campaign the catalogue does not know (C999): kept, and flagged by dbt;
- a conversion of an order the shop never exported (`O-YYYYMMDD-99999`).

Conversions name orders of the shop's sample export (`O-YYYYMMDD-NNNNN`, 1..300 of the same
day) with the campaign the shop attributed the order to (`order_campaign`), so the attribution
join finds them; about one in ten names an order the shop never exported (numbers 90001 and up).
"""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

# Campaign id -> (channel, cost of one impression, cost of one click). Search is bought per
# click, display and social per thousand impressions, e-mail and affiliate per click.
CAMPAIGNS = {
    "C001": ("search", 0.0, 0.45),
    "C002": ("search", 0.0, 0.80),
    "C003": ("display", 0.0035, 0.0),
    "C004": ("display", 0.0022, 0.0),
    "C005": ("social", 0.0060, 0.0),
    "C006": ("social", 0.0048, 0.0),
    "C007": ("email", 0.0, 0.05),
    "C008": ("affiliate", 0.0, 0.30),
}
IMPRESSIONS_PER_DAY = 20_000
CLICK_RATE = 0.02
CONVERSION_RATE = 0.05
SHOP_ORDERS_PER_DAY = 300  # the shop's sample export has at least this many orders a day
UNEXPORTED_ORDER_SHARE = 0.1


def order_campaign(order_number: int) -> str:
    """The campaign the shop's sample export attributes order N of a day to."""
    return f"C{(order_number - 1) % len(CAMPAIGNS) + 1:03d}"


def order_id(day: date, order_number: int) -> str:
    return f"O-{day:%Y%m%d}-{order_number:05d}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(day: date, n: int, campaign: str | None, kind: str, at: datetime, cost: float, revenue=0.0) -> dict:
    return {
        "event_id": f"E-{day:%Y%m%d}-{n:06d}",
        "campaign_id": campaign,
        "event_type": kind,
        "ts": _iso(at),
        "cost": round(cost, 4),
        "revenue": round(revenue, 2),
    }


def _conversion(day: date, n: int, campaign: str, at: datetime, rng: random.Random, unused: list[int]) -> dict:
    """A conversion of `campaign`'s click: one of the campaign's orders not converted yet."""
    if unused and rng.random() >= UNEXPORTED_ORDER_SHARE:
        number = unused.pop()
    else:
        number = 90_000 + n % 10_000
    event = _event(day, n, campaign, "conversion", at, 0.0, rng.uniform(15.0, 240.0))
    return {**event, "order_id": order_id(day, number)}


def sample_events(day: date) -> Iterator[dict]:
    """The day's events as the ad server exports them, in time order, faults included."""
    rng = random.Random(f"ads:{day.isoformat()}")
    start = datetime.combine(day, time(0), UTC)
    last = start + timedelta(days=1) - timedelta(milliseconds=1)
    unused_orders = {c: [] for c in CAMPAIGNS}
    for number in rng.sample(range(1, SHOP_ORDERS_PER_DAY + 1), SHOP_ORDERS_PER_DAY):
        unused_orders[order_campaign(number)].append(number)
    ids = sorted(CAMPAIGNS)
    impressions = int(IMPRESSIONS_PER_DAY * rng.uniform(0.9, 1.1))
    events, n = [], 0
    for at in sorted(start + timedelta(seconds=rng.uniform(0, 86_399)) for _ in range(impressions)):
        # Conversions follow their click, which follows its impression, in the same campaign.
        campaign = rng.choice(ids)
        _, per_impression, per_click = CAMPAIGNS[campaign]
        n += 1
        events.append(_event(day, n, campaign, "impression", at, per_impression))
        if rng.random() < CLICK_RATE:
            at = min(at + timedelta(seconds=rng.uniform(1, 30)), last)
            n += 1
            events.append(_event(day, n, campaign, "click", at, per_click))
            if rng.random() < CONVERSION_RATE:
                n += 1
                at = min(at + timedelta(minutes=rng.uniform(1, 20)), last)
                events.append(_conversion(day, n, campaign, at, rng, unused_orders[campaign]))
    events.sort(key=lambda e: e["ts"])
    yield from events
    yield from _faults(day, n, rng, events)


def _faults(day: date, n: int, rng: random.Random, events: list[dict]) -> Iterator[dict]:
    start = datetime.combine(day, time(0), UTC)
    noon = start + timedelta(hours=12)
    clicks = [e for e in events if e["event_type"] == "click"]
    if clicks:
        yield dict(rng.choice(clicks))  # the duplicate
    yield _event(day, n + 1, "C003", "impression", start - timedelta(minutes=7), 0.0035)  # late
    malformed = _event(day, n + 2, "C001", "click", noon, 0.45)
    del malformed["event_id"]
    yield {**malformed, "cost": "0.45"}
    yield _event(day, n + 3, "C002", "click", noon, -0.80)  # negative cost
    yield _event(day, n + 4, "C005", "view", noon, 0.006)  # unknown event type
    yield _event(day, n + 5, None, "impression", noon, 0.0022)  # missing campaign id
    yield {**_event(day, n + 6, "C004", "impression", noon, 0.0022), "ts": f"{day.isoformat()} 25:61"}
    yield _event(day, n + 7, "C999", "click", noon, 0.30)  # a campaign missing from the catalogue
    # At least one conversion the shop cannot match, whatever the draws above gave.
    yield {**_event(day, n + 8, "C002", "conversion", noon, 0.0, 99.0), "order_id": order_id(day, 99_999)}
