"""The PostgreSQL peer of `scripts/bench http` (host/benches/http_ingest.rs).

What a utility would otherwise build for durable meter ingest: an aiohttp
service that takes the same HTTP POST body as meterhub's listener plugin on
its HTTP ingress (plugins/listener/README.md, "HTTP": a JSON array of reading
objects, or one reading object, all or nothing), validates each reading by
the same rules, and stores the batch with ONE multi-row

    INSERT ... SELECT ... FROM unnest($1, ..., $6)
    ON CONFLICT (device, channel, ts) DO NOTHING

per request through an asyncpg pool of 10 connections with
`synchronous_commit=on`; it answers 200 only after that statement has
committed (the WAL flushed), 503 when it failed (resend), 400 for an invalid
body (naming the element and field), 405 for anything but POST.

    200 {"ok":true,"accepted":3,"inserted":3}     inserted: new rows (repeats are dropped)
    400 {"ok":false,"error":"element 2: field \"ts\": ...","element":2,"field":"ts"}
    503 {"ok":false,"error":"not stored: ..."}

Validation follows plugins/listener/README.md ("A reading": types, lengths,
control characters, the ts range and future limit, exact decimals, kinds),
with a fast path for the common reading, so the peer does the listener's
work and not less. Two differences: a repeated member is not an error (the
last one wins), and a JSON number with a fraction where a string belongs
(`"device": 1.5`) is taken as its text.

`GET /stats` answers the table's rows and its size on disk (heap, TOAST and
indexes: `pg_total_relation_size`), for the bench's bytes per reading.

The table `bench_readings` (primary key (device, channel, ts)) is dropped and
created at every start. PostgreSQL: 127.0.0.1:5432, database `test`, trust
auth as `postgres` (else `root`); `--dsn` or METERHUB_PEER_DSN to change it.

Usage: pg_peer.py --port PORT [--host 127.0.0.1] [--dsn URL] [--pool 10]
`run PORT` (beside this file) makes the venv and starts it.
"""

import argparse
import datetime
import decimal
import json
import os
import re
import sys
import time

import asyncpg
from aiohttp import web

TABLE = "bench_readings"
POOL_SIZE = 10

# The listener's rules (plugins/listener/src/reading.rs).
MAX_NAME_BYTES = 128
MAX_UNIT_BYTES = 32
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z, exclusive
MAX_FUTURE_MS = 86_400_000
MAX_SCALE = 28
MAX_MAGNITUDE = decimal.Decimal(2**96)
KINDS = frozenset(("cumulative", "instantaneous", "state"))
FIELDS = frozenset(("device", "channel", "ts", "value", "unit", "kind"))
REQUIRED = ("device", "channel", "ts", "value")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# plugins/listener/src/decimal.rs: sign, digits, optional fraction and exponent.
DECIMAL = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# A decimal that is within range by its shape (fast path).
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,8})?")
PLAIN_INT = 10**20
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MILLISECOND = datetime.timedelta(milliseconds=1)

CREATE = f"""
CREATE TABLE {TABLE} (
    device  text        NOT NULL,
    channel text        NOT NULL,
    ts      timestamptz NOT NULL,
    value   numeric     NOT NULL,
    unit    text        NOT NULL,
    kind    text        NOT NULL,
    PRIMARY KEY (device, channel, ts)
)"""

INSERT = f"""
INSERT INTO {TABLE} (device, channel, ts, value, unit, kind)
SELECT d, c, timestamptz 'epoch' + t * interval '1 millisecond', v::numeric, u, k
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS r(d, c, t, v, u, k)
ON CONFLICT (device, channel, ts) DO NOTHING"""


class Invalid(Exception):
    """A reading that breaks a rule: `field` (or None) and the problem."""

    def __init__(self, field, problem):
        super().__init__(problem)
        self.field = field
        self.problem = problem

    def __str__(self):
        if self.field is None:
            return self.problem
        return f'field "{self.field}": {self.problem}'


def _name(field, value, limit, required):
    if not isinstance(value, str):
        raise Invalid(field, f"expected a string, got {_type(value)}")
    size = len(value.encode())
    if (required and size == 0) or size > limit:
        raise Invalid(field, f"must be {1 if required else 0} to {limit} bytes, got {size}")
    if CONTROL.search(value):
        raise Invalid(field, "contains a control character")
    return value


def _ts(value, now_ms):
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("ts", f"{value!r} is not RFC 3339 or milliseconds") from None
        if parsed.tzinfo is None:
            raise Invalid("ts", f"{value!r} has no time zone offset")
        ms = (parsed - EPOCH) // MILLISECOND
    else:
        raise Invalid("ts", f"expected milliseconds or an RFC 3339 string, got {_type(value)}")
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise Invalid("ts", f"{ms} is outside [2000-01-01, 2100-01-01)")
    if ms > now_ms + MAX_FUTURE_MS:
        raise Invalid("ts", f"{ms} is more than {MAX_FUTURE_MS} ms after the host's clock")
    return ms


def _value(value):
    # A JSON number with a fraction or exponent arrives as its text (parse_float=str).
    if isinstance(value, int) and not isinstance(value, bool):
        number = decimal.Decimal(value)
    elif isinstance(value, str):
        if not DECIMAL.fullmatch(value):
            raise Invalid("value", f"{value!r} is not a decimal number")
        number = decimal.Decimal(value)
    else:
        raise Invalid("value", f"expected a number or a decimal string, got {_type(value)}")
    if number.as_tuple().exponent < -MAX_SCALE:
        raise Invalid("value", f"more than {MAX_SCALE} digits after the point")
    if abs(number) >= MAX_MAGNITUDE:
        raise Invalid("value", "magnitude is 2^96 or more")
    return str(value)


def _type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _reading(element, now_ms):
    """One reading's columns, checked field by field; raises Invalid naming the field."""
    if not isinstance(element, dict):
        raise Invalid(None, f"expected a reading object, got {_type(element)}")
    unknown = element.keys() - FIELDS
    if unknown:
        raise Invalid(min(unknown), "unknown field")
    for field in REQUIRED:
        if field not in element:
            raise Invalid(field, "missing")
    kind = element.get("kind", "instantaneous")
    if not isinstance(kind, str) or kind not in KINDS:
        raise Invalid("kind", f"expected cumulative, instantaneous or state, got {kind!r}")
    return (
        _name("device", element["device"], MAX_NAME_BYTES, True),
        _name("channel", element["channel"], MAX_NAME_BYTES, True),
        _ts(element["ts"], now_ms),
        _value(element["value"]),
        _name("unit", element.get("unit", ""), MAX_UNIT_BYTES, False),
        kind,
    )


def _plain(text, low, high):
    """A printable ASCII string of low..high characters (= bytes): the fast path."""
    return type(text) is str and low <= len(text) <= high and text.isascii() and text.isprintable()


def columns(elements, now_ms):
    """The six insert columns of valid `elements`; raises IndexedInvalid.

    The common reading (ASCII names, ts in milliseconds, a plain decimal
    value) is checked in one expression; anything else goes through
    `_reading`, which checks every rule and names the field that breaks one.
    """
    devices, channels, stamps, values, units, kinds = [], [], [], [], [], []
    ts_high = min(MAX_TS_MS - 1, now_ms + MAX_FUTURE_MS)
    for index, element in enumerate(elements):
        if type(element) is dict and element.keys() <= FIELDS:
            device, channel = element.get("device"), element.get("channel")
            ts, value = element.get("ts"), element.get("value")
            unit, kind = element.get("unit", ""), element.get("kind", "instantaneous")
            if (
                _plain(device, 1, MAX_NAME_BYTES)
                and _plain(channel, 1, MAX_NAME_BYTES)
                and type(ts) is int
                and MIN_TS_MS <= ts <= ts_high
                and (
                    (type(value) is str and PLAIN_DECIMAL.fullmatch(value))
                    or (type(value) is int and -PLAIN_INT < value < PLAIN_INT)
                )
                and _plain(unit, 0, MAX_UNIT_BYTES)
                and type(kind) is str
                and kind in KINDS
            ):
                devices.append(device)
                channels.append(channel)
                stamps.append(ts)
                values.append(value if type(value) is str else str(value))
                units.append(unit)
                kinds.append(kind)
                continue
        try:
            reading = _reading(element, now_ms)
        except Invalid as e:
            raise IndexedInvalid(index, e) from None
        for column, cell in zip((devices, channels, stamps, values, units, kinds), reading):
            column.append(cell)
    return devices, channels, stamps, values, units, kinds


class IndexedInvalid(Exception):
    def __init__(self, index, invalid):
        super().__init__(f"element {index}: {invalid}")
        self.index = index
        self.invalid = invalid


def answer(status, body):
    return web.Response(status=status, body=json.dumps(body, separators=(",", ":")), content_type="application/json")


async def handle(request):
    if request.method == "GET" and request.path == "/stats":
        return await stats(request)
    if request.method != "POST":
        return answer(405, {"ok": False, "error": f"method {request.method} not allowed; send readings with POST"})
    body = await request.read()
    try:
        # Numbers with a fraction or exponent stay text: exact, as the listener reads them.
        data = json.loads(body, parse_float=str)
    except json.JSONDecodeError as e:
        error = f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        return answer(400, {"ok": False, "error": error, "line": e.lineno, "column": e.colno})
    except UnicodeDecodeError as e:
        return answer(400, {"ok": False, "error": f"invalid JSON: not UTF-8 ({e.reason})"})
    if isinstance(data, dict):
        elements = [data]
    elif isinstance(data, list):
        elements = data
    else:
        error = f"expected an array of reading objects or one reading object, got {_type(data)}"
        return answer(400, {"ok": False, "error": error})
    if not elements:
        return answer(200, {"ok": True, "accepted": 0, "inserted": 0})
    try:
        cols = columns(elements, time.time_ns() // 1_000_000)
    except IndexedInvalid as e:
        detail = {"ok": False, "error": str(e), "element": e.index}
        if e.invalid.field is not None:
            detail["field"] = e.invalid.field
        return answer(400, detail)
    try:
        status = await request.app["pool"].execute(INSERT, *cols)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as e:
        return answer(503, {"ok": False, "error": f"not stored: {e}"})
    # "INSERT 0 <rows>"
    inserted = int(status.rsplit(" ", 1)[-1])
    return answer(200, {"ok": True, "accepted": len(elements), "inserted": inserted})


async def stats(request):
    pool = request.app["pool"]
    rows = await pool.fetchval(f"SELECT count(*) FROM {TABLE}")
    sizes = await pool.fetchrow(
        "SELECT pg_total_relation_size($1::regclass) AS total, pg_relation_size($1::regclass) AS heap, "
        "pg_indexes_size($1::regclass) AS indexes",
        TABLE,
    )
    return answer(
        200,
        {"rows": rows, "table_bytes": sizes["total"], "heap_bytes": sizes["heap"], "index_bytes": sizes["indexes"]},
    )


async def connect(dsns):
    """The first of `dsns` that accepts a connection, and that connection."""
    errors = []
    for dsn in dsns:
        try:
            return dsn, await asyncpg.connect(dsn)
        except (asyncpg.PostgresError, OSError) as e:
            errors.append(f"{dsn}: {e}")
    sys.exit("pg-peer: cannot connect to PostgreSQL:\n  " + "\n  ".join(errors))


async def start(app):
    dsn, con = await connect(app["dsns"])
    try:
        await con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await con.execute(CREATE)
        version = await con.fetchval("SHOW server_version")
    finally:
        await con.close()
    pool = await asyncpg.create_pool(
        dsn, min_size=app["pool_size"], max_size=app["pool_size"], server_settings={"synchronous_commit": "on"}
    )
    for setting in ("synchronous_commit", "fsync"):
        value = await pool.fetchval(f"SHOW {setting}")
        if value != "on":
            sys.exit(f"pg-peer: PostgreSQL has {setting}={value}; the peer must be durable")
    app["pool"] = pool
    print(
        f"pg-peer: http://{app['host']}:{app['port']} -> PostgreSQL {version} at {dsn}, table {TABLE} "
        f"(dropped and created), pool {app['pool_size']}, synchronous_commit=on",
        flush=True,
    )


async def stop(app):
    pool = app.get("pool")
    if pool is not None:
        await pool.close()


def main():
    parser = argparse.ArgumentParser(description="The PostgreSQL peer of scripts/bench http.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dsn", default=os.environ.get("METERHUB_PEER_DSN"))
    parser.add_argument("--pool", type=int, default=POOL_SIZE)
    parser.add_argument("--max-body-bytes", type=int, default=16 << 20)
    args = parser.parse_args()
    app = web.Application(client_max_size=args.max_body_bytes)
    app["dsns"] = [args.dsn] if args.dsn else [f"postgresql://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")]
    app["pool_size"] = args.pool
    app["host"], app["port"] = args.host, args.port
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, shutdown_timeout=5)


if __name__ == "__main__":
    main()
