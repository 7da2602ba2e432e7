"""Control endpoints under ``/_emulator/``: drive the emulator from another process.

JSON in, JSON out; no authentication (the emulator binds 127.0.0.1 by default).

==========================================  =======================================
``GET  /_emulator/health``                  ``{"status": "ok"}``
``GET  /_emulator/endpoints``               endpoint names (for faults, counters)
``GET  /_emulator/counters``                calls per endpoint
``POST /_emulator/counters/reset``          zero the counters
``GET  /_emulator/faults``                  pending faults per endpoint
``POST /_emulator/faults``                  ``{"endpoint", "status"?, "latency"?,
                                            "drop"?, "times"? (null: forever),
                                            "body"?}``
``DELETE /_emulator/faults``                clear all faults
``GET  /_emulator/clock``                   ``{"now"}``
``POST /_emulator/clock``                   ``{"now": ISO}``, ``{"advance": s}`` or
                                            ``{"reset": true}``
``GET  /_emulator/config``                  webhook URL, number of secrets
``POST /_emulator/config``                  ``{"webhook_url"?, "webhook_secret"?
                                            (a string or a list of two)}``
``POST /_emulator/reset``                   forget everything
``GET  /_emulator/state``                   users (no password), items, accounts
``POST /_emulator/users``                   ``{"email"?, "password"?,
                                            "external_user_id"?, "uuid"?}``
``POST /_emulator/users/<uuid>/token``      ``{"access_token", "expires_at"}``
``POST /_emulator/items``                   ``{"user_uuid", "bank_id"?,
                                            "accounts"? (a number or a list of
                                            ``{"iban", "name"?, ...}``),
                                            "status"?, "send_webhooks"?}``
``POST /_emulator/items/<id>/webhooks``     send Connect's webhooks for the item
                                            (``{"sync": true}`` to wait)
``POST /_emulator/sessions/<id>/complete``  the Connect form submit:
                                            ``{"bank_id", "accounts"}``
``GET  /_emulator/webhooks``                deliveries so far
``POST /_emulator/webhooks/wait``           ``{"timeout"?}``: wait for pending ones
``DELETE /_emulator/webhooks``              forget the deliveries
==========================================  =======================================
"""

import json
import re
from datetime import datetime

from .api import ENDPOINTS
from .state import ApiError, Fault, iso


def make_fault(*, status=None, latency=0.0, drop=False, times=1, body=None):
    if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
        raise ValueError("status must be an HTTP status code")
    if not isinstance(latency, int | float) or latency < 0:
        raise ValueError("latency must be a number of seconds")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError("times must be a positive integer or None")
    if status is None and not drop and not latency:
        raise ValueError("a fault needs a status, a latency or drop")
    return Fault(
        status=status, latency=latency, drop=bool(drop), times=times, body=body
    )


def _health(emulator, body, params):
    return 200, {"status": "ok", "url": emulator.url}


def _endpoints(emulator, body, params):
    return 200, list(ENDPOINTS)


def _counters(emulator, body, params):
    return 200, emulator.counters()


def _reset_counters(emulator, body, params):
    emulator.reset_counters()
    return 204, None


def _faults(emulator, body, params):
    with emulator.state.lock:
        return 200, {
            endpoint: [fault.as_dict() for fault in faults]
            for endpoint, faults in emulator.state.faults.items()
            if faults
        }


def _add_fault(emulator, body, params):
    fields = {
        key: body[key]
        for key in ("status", "latency", "drop", "times", "body")
        if key in body
    }
    emulator.inject_fault(body.get("endpoint"), **fields)
    return 201, {"endpoint": body.get("endpoint")}


def _clear_faults(emulator, body, params):
    emulator.clear_faults()
    return 204, None


def _clock(emulator, body, params):
    return 200, {"now": iso(emulator.now())}


def _set_clock(emulator, body, params):
    if body.get("reset"):
        emulator.reset_clock()
    elif "now" in body:
        text = str(body["now"]).replace("Z", "+00:00")
        emulator.set_clock(datetime.fromisoformat(text))
    elif "advance" in body:
        emulator.advance_clock(float(body["advance"]))
    else:
        raise ValueError("give now, advance or reset")
    return 200, {"now": iso(emulator.now())}


def _config(emulator, body, params):
    return 200, {
        "webhook_url": emulator.webhook_url,
        "webhook_secrets": len(emulator.webhook_secrets),
        "client_id": emulator.client_id,
    }


def _set_config(emulator, body, params):
    emulator.configure(
        webhook_url=body.get("webhook_url"), webhook_secret=body.get("webhook_secret")
    )
    return _config(emulator, body, params)


def _reset(emulator, body, params):
    emulator.reset()
    return 204, None


def _state(emulator, body, params):
    state = emulator.state
    with state.lock:
        users = [
            {key: value for key, value in user.items() if key != "password"}
            for user in state.users.values()
        ]
        items = [state.item_view(item_id) for item_id in sorted(state.items)]
    return 200, {"users": users, "items": items}


def _add_user(emulator, body, params):
    user = emulator.add_user(
        email=body.get("email"),
        password=body.get("password"),
        external_user_id=body.get("external_user_id"),
        uuid=body.get("uuid"),
    )
    user.pop("password", None)
    return 201, user


def _token(emulator, body, params):
    record = emulator.state.issue_token(params["uuid"])
    return 201, {
        "access_token": record["access_token"],
        "expires_at": iso(record["expires_at"]),
    }


def _add_item(emulator, body, params):
    item = emulator.add_item(
        body.get("user_uuid"),
        int(body.get("bank_id", 574)),
        body.get("accounts", 2),
        status=int(body.get("status", 0)),
        send_webhooks=bool(body.get("send_webhooks")),
    )
    return 201, item


def _item_webhooks(emulator, body, params):
    deliveries = emulator.send_connect_webhooks(
        int(params["item_id"]), sync=bool(body.get("sync"))
    )
    return 200, [delivery.as_dict() for delivery in deliveries]


def _complete_session(emulator, body, params):
    item = emulator.complete_connect(
        params["session_id"],
        int(body.get("bank_id", 574)),
        body.get("accounts", 2),
        sync=bool(body.get("sync")),
    )
    return 200, item


def _webhooks(emulator, body, params):
    return 200, [delivery.as_dict() for delivery in emulator.webhook_deliveries]


def _wait_webhooks(emulator, body, params):
    done = emulator.webhooks.wait(float(body.get("timeout", 10)))
    deliveries = [delivery.as_dict() for delivery in emulator.webhook_deliveries]
    return 200, {"done": done, "deliveries": deliveries}


def _clear_webhooks(emulator, body, params):
    emulator.webhooks.clear()
    return 204, None


ROUTES = (
    ("GET", "/health", _health),
    ("GET", "/endpoints", _endpoints),
    ("GET", "/counters", _counters),
    ("POST", "/counters/reset", _reset_counters),
    ("GET", "/faults", _faults),
    ("POST", "/faults", _add_fault),
    ("DELETE", "/faults", _clear_faults),
    ("GET", "/clock", _clock),
    ("POST", "/clock", _set_clock),
    ("GET", "/config", _config),
    ("POST", "/config", _set_config),
    ("POST", "/reset", _reset),
    ("GET", "/state", _state),
    ("POST", "/users", _add_user),
    ("POST", "/users/(?P<uuid>[^/]+)/token", _token),
    ("POST", "/items", _add_item),
    ("POST", r"/items/(?P<item_id>\d+)/webhooks", _item_webhooks),
    ("POST", "/sessions/(?P<session_id>[^/]+)/complete", _complete_session),
    ("GET", "/webhooks", _webhooks),
    ("POST", "/webhooks/wait", _wait_webhooks),
    ("DELETE", "/webhooks", _clear_webhooks),
)
_COMPILED = tuple(
    (method, re.compile(f"^/_emulator{pattern}$"), handler)
    for method, pattern, handler in ROUTES
)


def handle(emulator, method, path, raw):
    """Answer a control call: ``(status, json)``."""
    for route_method, pattern, handler in _COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise TypeError("the body must be a JSON object")
                return handler(emulator, body, found.groupdict())
            except ApiError as error:
                return error.status, {"error": error.code, "message": error.message}
            except (ValueError, TypeError, KeyError) as error:
                return 400, {"error": "invalid_request", "message": str(error)}
    return 404, {"error": "not_found", "message": f"no control endpoint {path}"}
