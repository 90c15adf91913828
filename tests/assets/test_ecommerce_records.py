"""A landed file's bytes as raw records: every quirk of the input contracts."""

import gzip
import json
from datetime import date

import pytest

from assets.ecommerce.records import split_file
from orchestration.resources.ecommerce.sample import order_files, sample_files

HEADER = (
    "order_id,order_line,customer_id,customer_email,product_id,product_name,category,quantity,"
    "unit_price,currency,ordered_at,status,campaign_id"
)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_records_keep_their_text_and_fields_whatever_the_bom_and_newlines(bom, newline):
    lines = [
        HEADER,
        'O-1,1,K1,a@x.com,P-1,"Mug, large",kitchen,1,2.50,EUR,2026-11-20T10:00:00Z,paid,',
        'O-1,2,K1,a@x.com,P-2,"Gift card' + newline + 'with a note",gift,1,5,EUR,2026-11-20T10:00:00Z,paid,C001',
        'O-2,1,K2,b@x.com,P-3,"12"" vinyl",music,1,9,EUR,2026-11-20T11:00:00+01:00,paid,C002',
        "",
    ]
    header, records = split_file("csv", bom + newline.join(lines).encode())
    assert header == HEADER
    assert [r.payload for r in records] == lines[1:4]
    assert records[0].fields[5] == "Mug, large"
    assert records[1].fields[5] == "Gift card" + newline + "with a note"
    assert records[2].fields[5] == '12" vinyl'
    assert records[0].fields[12] == ""
    assert all(len(r.fields) == 13 for r in records)


def test_a_short_record_is_kept_with_its_few_fields():
    _, records = split_file("csv", f"{HEADER}\nO-1,1,K1\n".encode())
    assert [(r.payload, r.fields) for r in records] == [("O-1,1,K1", ["O-1", "1", "K1"])]


def test_gzip_logs_and_plain_logs_give_one_record_per_line():
    text = '1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n1.2.3.4 - - [20/Nov\n\n'
    plain = split_file("log", text.encode())[1]
    zipped = split_file("log", gzip.compress(text.encode()))[1]
    assert [r.payload for r in plain] == [r.payload for r in zipped] == text.strip().split("\n")[:2]


def test_json_array_ndjson_and_a_broken_array():
    posts = [{"id": "S-1", "extra": {"a": 1}}, {"platform": "x"}]
    array = split_file("json", json.dumps(posts).encode())[1]
    ndjson = split_file("json", ("\n".join(json.dumps(p) for p in posts) + '\n{"id": "cut\n').encode())[1]
    broken = split_file("json", b'[{"id": "S-1"},')[1]
    assert [json.loads(r.payload) for r in array] == posts
    assert [r.payload for r in ndjson][-1] == '{"id": "cut' and len(ndjson) == 3
    assert [r.payload for r in broken] == ['[{"id": "S-1"},']


def test_sample_exports_are_identical_on_every_run_and_carry_the_quirks():
    first, again = order_files(date(2026, 11, 20)), order_files(date(2026, 11, 20))
    assert first == again
    assert first["orders_web.csv"].startswith(b"\xef\xbb\xbf") and b"\r\n" in first["orders_web.csv"]
    header, records = split_file("csv", first["orders_web.csv"])
    assert header == HEADER
    payloads = [r.payload for r in records]
    assert len(payloads) != len(set(payloads)), "one line exported twice"
    assert any(r.fields[7] == "-2" for r in records)
    assert all(r.fields[0].startswith("O-20261120-") for r in records)
    assert {r.fields[12] for r in records} <= {"", *(f"C{i:03d}" for i in range(1, 9))}
    assert set(sample_files("social", date(2026, 11, 20))) == {"posts.json", "posts-stream.json"}


def test_a_semicolon_header_splits_its_records_at_semicolons():
    header = HEADER.replace(",status,", ",magento_status,").replace(",", ";")
    text = f'{header}\nM-1;1;K1;a@x.com;P-1;"Mug; large";kitchen;1;12,50;eur;2026-11-20T10:00:00Z;complete;\n'
    got_header, records = split_file("csv", text.encode())
    assert got_header == header
    assert records[0].fields[5] == "Mug; large" and records[0].fields[8] == "12,50" and len(records[0].fields) == 13


def test_a_log_line_is_cut_at_newlines_only_and_undecodable_bytes_are_replaced():
    text = 'a "ua\u2028x\x85y"\r\nb "caf'.encode() + b"\xe9\xff" + b'"\n'
    assert [r.payload for r in split_file("log", text)[1]] == ['a "ua\u2028x\x85y"', 'b "caf\ufffd\ufffd"']
