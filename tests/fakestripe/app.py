"""The fake Stripe as an ASGI app: the ``/v1`` API, the hosted checkout and portal pages, ``/_fake`` controls."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .api import Call, route
from .state import (
    IDEMPOTENCY_LIFETIME,
    AuthenticationRequired,
    FakeStripe,
    IdempotentResult,
    PaymentDeclined,
    RequestRecord,
)
from .wire import JSON, StripeError, decode_form, new_id

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def money(amount: int, currency: str | None) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get((currency or "usd").lower())
    value = f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {(currency or '').upper()}"


def _masked(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key


def _stripe_json(status: int, body: JSON, headers: dict[str, str]) -> Response:
    return Response(json.dumps(body, indent=2), status_code=status, headers=headers, media_type="application/json")


def _auth_error(request: Request, fake: FakeStripe) -> StripeError | None:
    header = request.headers.get("authorization", "")
    key: str | None = None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    if not key:
        return StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
            "authentication for details, or we can help at https://support.stripe.com/.",
        )
    if key != fake.secret_key:
        return StripeError(401, f"Invalid API Key provided: {_masked(key)}")
    return None


def create_app(fake: FakeStripe) -> Starlette:
    """The ASGI app serving ``fake``; set ``fake.base_url`` to where it is served (pages' URLs use it)."""

    # --- the API -----------------------------------------------------------------------------------
    async def api(request: Request) -> Response:
        request_id = new_id("request")
        method = request.method
        path = request.url.path.rstrip("/") or "/"
        version = request.headers.get("stripe-version")
        headers = {"Request-Id": request_id, "Stripe-Version": version or fake.api_version}
        error = _auth_error(request, fake)
        if error is not None:
            return _stripe_json(error.status, error.body(), headers)
        body = await request.body()
        key = request.headers.get("idempotency-key") if method == "POST" else None
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
            if method == "POST" and body:
                pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            params = decode_form(pairs)
        except (StripeError, UnicodeDecodeError) as exc:
            err = exc if isinstance(exc, StripeError) else StripeError(400, "Invalid request body encoding.")
            return _stripe_json(err.status, err.body(request_id), headers)
        found = route(method, path)
        if found is None:
            err = StripeError(
                404,
                f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help "
                "at https://support.stripe.com/.",
            )
            return _stripe_json(err.status, err.body(), headers)
        op, args = found

        def run() -> tuple[int, JSON, bool]:
            with fake.lock:
                injected = fake.take_injected_failure(path)
                if injected is not None:
                    status, result = injected
                    fake.requests.append(RequestRecord(method, path, params, key, status, request_id, version))
                    return status, result, False
                if key is not None:
                    if len(key) > 255:
                        err = StripeError(
                            400,
                            "Idempotency-Key must be at most 255 characters long.",
                            type_="idempotency_error",
                        )
                        return err.status, err.body(request_id), False
                    prior = fake.idempotency.get(key)
                    if prior is not None and prior.created + IDEMPOTENCY_LIFETIME > fake.now():
                        if (prior.method, prior.path) != (method, path):
                            err = StripeError(
                                400,
                                "Keys for idempotent requests can only be used for the same endpoint they were "
                                f"first used for ('{prior.method} {prior.path}' vs '{method} {path}'). Try using a "
                                f"key other than '{key}' if you meant to execute a different request.",
                                type_="idempotency_error",
                            )
                            return err.status, err.body(request_id), False
                        if prior.params != params:
                            err = StripeError(
                                400,
                                "Keys for idempotent requests can only be used with the same parameters they were "
                                f"first used with. Try using a key other than '{key}' if you meant to execute a "
                                "different request.",
                                type_="idempotency_error",
                            )
                            return err.status, err.body(request_id), False
                        fake.requests.append(
                            RequestRecord(method, path, params, key, prior.status, request_id, version)
                        )
                        return prior.status, prior.body, True
                call = Call(method, path, params, args, request_id, key)
                try:
                    with fake.request_context(request_id, key):
                        status, result = 200, op(fake, call)
                except StripeError as exc:
                    status, result = exc.status, exc.body(request_id)
                # Like Stripe: a request that failed validation saves no idempotent result.
                if key is not None and (status == 200 or result["error"]["type"] != "invalid_request_error"):
                    fake.idempotency[key] = IdempotentResult(method, path, params, status, result, fake.now())
                fake.requests.append(RequestRecord(method, path, params, key, status, request_id, version))
                return status, result, False

        status, result, replayed = await run_in_threadpool(run)
        held = fake.take_hold(method, path)
        if held is not None:  # answered, but the answer waits (FakeStripe.hold)
            held.arrived.set()
            await run_in_threadpool(held.released.wait, held.timeout)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return _stripe_json(status, result, headers)

    # --- hosted checkout page ----------------------------------------------------------------------
    def checkout_context(session: JSON, error: str | None, form: dict[str, str]) -> dict[str, Any]:
        lines = []
        interval = "month"
        product_name = ""
        for item in fake.session_line_items(session["id"]):
            price = item["price"]
            interval = (price.get("recurring") or {}).get("interval", "month")
            product_name = product_name or item["description"]
            lines.append(
                {
                    "description": item["description"],
                    "quantity": item["quantity"],
                    "unit": money(price["unit_amount"], price["currency"]),
                    "interval": interval,
                    "amount": money(item["amount_total"], item["currency"]),
                }
            )
        email = session["customer_email"]
        if session["customer"] is not None:
            email = fake.customers.get(session["customer"], {}).get("email") or email
        return {
            "session": session,
            "lines": lines,
            "total": money(session["amount_total"] or 0, session["currency"]),
            "interval": interval,
            "product_name": product_name,
            "account_name": fake.account_name,
            "cancel_host": urlsplit(session["cancel_url"] or "").netloc or "the shop",
            "email": form.get("email") or email,
            "email_locked": bool(email),
            "action": f"/c/pay/{session['id']}",
            "error": error,
            "form": form,
        }

    def message_page(
        heading: str, message: str, status: int = 200, link: str | None = None, text: str = ""
    ) -> Response:
        html = TEMPLATES.get_template("message.html").render(
            heading=heading, message=message, link=link, link_text=text
        )
        return HTMLResponse(html, status_code=status)

    def closed_session_page(session: JSON) -> Response:
        if session["status"] == "complete":
            link = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])
            return message_page(
                "Your subscription is active", "This checkout session is already complete.", 200, link, "Continue"
            )
        return message_page(
            "This checkout session has expired",
            "This Checkout Session is no longer active. Go back and start again.",
            410,
            session["cancel_url"],
            "Back",
        )

    def three_d_secure_page(session_id: str, message: str, form: dict[str, str]) -> Response:
        """The bank's challenge (3-D Secure), as Stripe shows it over its checkout page: the form's fields
        carried along, and the holder's answer (``three_d_secure``: ``complete`` or ``fail``)."""
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in form.items()
            if k != "three_d_secure"
        )
        buttons = "".join(
            f'<button type="submit" name="three_d_secure" value="{value}" id="{value}-authentication">{label}</button>'
            for value, label in (("complete", "Complete authentication"), ("fail", "Fail authentication"))
        )
        html = (
            '<!doctype html><title>Confirm your payment</title><h1 id="heading">3-D Secure</h1>'
            f'<p id="message">{escape(message)}</p>'
            f'<form method="post" action="/c/pay/{escape(session_id)}" id="three-d-secure">{hidden}{buttons}</form>'
        )
        return HTMLResponse(html)

    async def checkout_page(request: Request) -> Response:
        session_id = request.path_params["session_id"]

        def show() -> Response:
            with fake.lock:
                session = fake.sessions.get(session_id)
                if session is None:
                    return message_page(
                        "Something went wrong", "The page you were looking for could not be found.", 404
                    )
                if session["status"] != "open":
                    return closed_session_page(session)
                html = TEMPLATES.get_template("checkout.html").render(**checkout_context(session, None, {}))
                return HTMLResponse(html)

        return await run_in_threadpool(show)

    async def checkout_submit(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form = {k: str(v) for k, v in (await request.form()).items()}

        def submit() -> Response:
            with fake.lock:
                session = fake.sessions.get(session_id)
                if session is None:
                    return message_page(
                        "Something went wrong", "The page you were looking for could not be found.", 404
                    )
                if session["status"] != "open":
                    return closed_session_page(session)
                iban = form.get("iban", "").strip()
                answer = form.get("three_d_secure")
                try:
                    if not iban:
                        _check_card_form(form)
                    fake.pay_checkout(
                        session_id,
                        card=form.get("card_number", ""),
                        email=form.get("email") or None,
                        name=form.get("name") or None,
                        iban=iban or None,
                        authenticated=None if answer is None else answer == "complete",
                    )
                except AuthenticationRequired as challenge:
                    return three_d_secure_page(session_id, challenge.message, form)
                except PaymentDeclined as declined:
                    html = TEMPLATES.get_template("checkout.html").render(
                        **checkout_context(session, declined.message, form)
                    )
                    return HTMLResponse(html, status_code=402)
                return RedirectResponse(fake.success_redirect(session_id), status_code=303)

        return await run_in_threadpool(submit)

    # --- billing portal page -------------------------------------------------------------------------
    def portal_rules(portal: JSON, price: JSON) -> dict[str, Any]:
        """What the session's configuration lets the customer change on a subscription of ``price``."""
        features = fake.portal_features(portal["configuration"])
        update = features["subscription_update"]
        products = update["products"]
        listed = None if products is None else next((p for p in products if p["product"] == price["product"]), None)
        allowed = update["default_allowed_updates"] if update["enabled"] else []
        quantity = listed["adjustable_quantity"] if listed is not None else {"enabled": products is None}
        return {
            "seats": "quantity" in allowed and bool(quantity["enabled"]),
            "minimum": quantity.get("minimum") or 1,
            "maximum": quantity.get("maximum"),
            "prices": None
            if products is None
            else (listed["prices"] if listed is not None and "price" in allowed else []),
            "proration_behavior": update["proration_behavior"],
            "cancel": bool(features["subscription_cancel"]["enabled"]),
            "invoices": bool(features["invoice_history"]["enabled"]),
            "payment_method": bool(features["payment_method_update"]["enabled"]),
            "customer_updates": features["customer_update"]["allowed_updates"]
            if features["customer_update"]["enabled"]
            else [],
        }

    def portal_context(portal: JSON, secret: str) -> dict[str, Any]:
        customer = fake.customers.get(portal["customer"], {"id": portal["customer"], "email": None})
        subs = []
        rules: dict[str, Any] = portal_rules(portal, {"product": None})
        for sub in fake.ordered(fake.subscriptions):
            if sub["customer"] != portal["customer"]:
                continue
            rendered = fake.render(sub)
            item = rendered["items"]["data"][0]
            price = item["price"]
            rules = portal_rules(portal, price)
            others = [
                {"id": p["id"], "label": f"{money(p['unit_amount'], p['currency'])} / {p['recurring']['interval']}"}
                for p in fake.ordered(fake.prices)
                if p["product"] == price["product"]
                and p["id"] != price["id"]
                and p["active"]
                and p["recurring"]
                and (rules["prices"] is None or p["id"] in rules["prices"])
            ]
            subs.append(
                {
                    "id": sub["id"],
                    "status": sub["status"],
                    "product": fake.products[price["product"]]["name"],
                    "quantity": item["quantity"],
                    "unit": money(price["unit_amount"], price["currency"]),
                    "interval": price["recurring"]["interval"],
                    "period_end": datetime.fromtimestamp(item["current_period_end"], UTC).strftime("%d %B %Y"),
                    "cancel_at_period_end": sub["cancel_at_period_end"],
                    "other_prices": others,
                    "rules": rules,
                }
            )
        invoices = [
            {
                "id": inv["id"],
                "date": datetime.fromtimestamp(inv["created"], UTC).strftime("%d %b %Y"),
                "number": inv["number"] or inv["id"],
                "amount": money(inv["total"], inv["currency"]),
                "status": inv["status"],
                "url": inv["hosted_invoice_url"],
            }
            for inv in fake.ordered(fake.invoices)
            if inv["customer"] == portal["customer"] and inv["status"] != "draft"
        ]
        return {
            "rules": rules,
            "portal": portal,
            "customer": customer,
            "subscriptions": subs,
            "invoices": invoices,
            "account_name": fake.account_name,
            "return_host": urlsplit(portal["return_url"] or "").netloc or "the shop",
            "base": f"/p/session/{secret}",
        }

    async def portal_page(request: Request) -> Response:
        secret = request.path_params["secret"]

        def show() -> Response:
            with fake.lock:
                portal = fake.portal_session_by_secret(secret)
                if portal is None:
                    return message_page("Something went wrong", "This portal link is not valid.", 404)
                html = TEMPLATES.get_template("portal.html").render(**portal_context(portal, secret))
                return HTMLResponse(html)

        return await run_in_threadpool(show)

    async def portal_action(request: Request) -> Response:
        secret = request.path_params["secret"]
        sub_id = request.path_params["sub_id"]
        action = request.path_params["action"]
        form = {k: str(v) for k, v in (await request.form()).items()}

        def act() -> Response:
            with fake.lock:
                portal = fake.portal_session_by_secret(secret)
                sub = fake.subscriptions.get(sub_id)
                if portal is None or sub is None or sub["customer"] != portal["customer"]:
                    return message_page("Something went wrong", "This portal link is not valid.", 404)
                item = fake.render(sub)["items"]["data"][0]
                rules = portal_rules(portal, item["price"])
                try:
                    if action == "quantity":
                        quantity = int(form.get("quantity", "0"))
                        if not rules["seats"]:
                            raise ValueError("This portal does not let you change the quantity.")
                        if quantity < rules["minimum"] or (
                            rules["maximum"] is not None and quantity > rules["maximum"]
                        ):
                            top = "" if rules["maximum"] is None else f" and at most {rules['maximum']}"
                            raise ValueError(f"The quantity must be at least {rules['minimum']}{top}.")
                        fake.portal_update(sub_id, quantity=quantity, proration_behavior=rules["proration_behavior"])
                    elif action == "price":
                        price = form.get("price", "")
                        if rules["prices"] is not None and price not in rules["prices"]:
                            raise ValueError("This portal does not offer that price.")
                        fake.portal_update(sub_id, price=price, proration_behavior=rules["proration_behavior"])
                    elif action in ("cancel", "renew") and not rules["cancel"]:
                        raise ValueError("This portal does not let you cancel.")
                    elif action == "cancel":
                        fake.cancel_at_period_end(sub_id, True)
                    elif action == "renew":
                        fake.cancel_at_period_end(sub_id, False)
                    else:
                        return message_page("Something went wrong", f"Unknown action {action}.", 404)
                except (StripeError, ValueError) as exc:
                    return message_page("Could not update the plan", str(exc), 400, f"/p/session/{secret}", "Back")
            return RedirectResponse(f"/p/session/{secret}", status_code=303)

        return await run_in_threadpool(act)

    # --- an invoice's PDF ---------------------------------------------------------------------------------
    async def invoice_pdf(request: Request) -> Response:
        invoice_id = request.path_params["invoice_id"]
        with fake.lock:
            invoice = fake.invoices.get(invoice_id)
            if invoice is None or invoice["status"] == "draft":
                return message_page("Something went wrong", "This invoice could not be found.", 404)
            number = invoice["number"] or invoice["id"]
            amount = money(invoice["total"], invoice["currency"])
            return Response(_pdf(f"Invoice {number}: {amount}, {invoice['status']}"), media_type="application/pdf")

    # --- test controls over HTTP ---------------------------------------------------------------------
    async def control(request: Request) -> Response:
        name = request.path_params["name"]
        raw = await request.body()
        data: JSON = json.loads(raw) if raw else {}
        ident = request.path_params.get("ident", "")

        def run() -> Any:
            hooks = fake.webhooks
            if name == "state":
                return {"now": fake.now(), "api_version": fake.api_version, "webhooks": hooks.summary()}
            if name == "reset":
                fake.reset()
                return {"ok": True}
            if name == "advance":
                events = fake.advance(
                    days=data.get("days", 0), hours=data.get("hours", 0), seconds=data.get("seconds", 0)
                )
                return {"now": fake.now(), "events": [e["id"] for e in events]}
            if name == "fail_next_renewal":
                fake.fail_next_renewal(ident, int(data.get("times", 1)))
                return {"ok": True}
            if name == "require_action_next_renewal":
                fake.require_action_next_renewal(ident, int(data.get("times", 1)))
                return {"ok": True}
            if name == "pause_collection":
                return fake.pause_collection(ident, data.get("behavior", "void"))
            if name == "pause":
                return fake.pause_subscription(ident)
            if name == "resume":
                return fake.resume_subscription(ident, billing_cycle_anchor=data.get("billing_cycle_anchor", "now"))
            if name == "resume_collection":
                return fake.resume_collection(ident)
            if name == "pay_invoice":
                return fake.pay_hosted_invoice(ident, authenticate=bool(data.get("authenticate", True)))
            if name == "portal_update":
                return fake.portal_update(ident, quantity=data.get("quantity"), price=data.get("price"))
            if name == "cancel_at_period_end":
                return fake.cancel_at_period_end(ident, bool(data.get("cancel", True)))
            if name == "delete":
                return fake.cancel_subscription(ident)
            if name == "exhaust_retries":
                return fake.exhaust_payment_retries(ident, outcome=data.get("outcome", "canceled"))
            if name == "retry_invoice":
                return fake.retry_invoice(ident, succeed=bool(data.get("succeed", True)))
            if name == "pay":
                return fake.pay_checkout(
                    ident,
                    card=data.get("card", "4242424242424242"),
                    email=data.get("email"),
                    name=data.get("name"),
                    iban=data.get("iban"),
                    authenticated=bool(data.get("authenticate", True)),
                )
            if name == "settle_async":
                return fake.settle_async_payment(ident, succeed=data.get("succeed"))
            if name == "endpoint":
                endpoint = hooks.add_endpoint(
                    data["url"], secret=data.get("secret"), enabled_events=data.get("enabled_events", ["*"])
                )
                return {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret}
            if name == "mode":
                hooks.mode = data.get("mode", hooks.mode)
                hooks.delay = float(data.get("delay", hooks.delay))
                return hooks.summary()
            if name == "drop_next":
                hooks.drop_next(int(data.get("count", 1)), types=data.get("types"))
                return {"ok": True}
            if name == "delay_next":
                hooks.delay_next(float(data["seconds"]), int(data.get("count", 1)), types=data.get("types"))
                return {"ok": True}
            if name == "flush":
                done = hooks.flush(
                    data.get("order", "emitted"), seed=data.get("seed"), concurrent=data.get("concurrent", False)
                )
                return [{"event": d.event_id, "status": d.status, "error": d.error} for d in done]
            if name == "deliver":
                done = hooks.deliver(ident, times=int(data.get("times", 1)), concurrent=bool(data.get("concurrent")))
                return [{"event": d.event_id, "status": d.status, "error": d.error} for d in done]
            if name == "signed":
                kind = data.get("kind", "valid")
                if kind == "forged":
                    payload, header = hooks.forged(ident)
                elif kind == "stale":
                    payload, header = hooks.stale(ident, age=int(data.get("age", 600)))
                else:
                    payload, header = hooks.signed(ident)
                return {"payload": payload.decode("utf-8"), "header": header}
            if name == "wait_idle":
                hooks.wait_idle(float(data.get("timeout", 15)))
                return {"ok": True}
            raise LookupError(f"no control {name}")

        try:
            return JSONResponse(await run_in_threadpool(run))
        except (LookupError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    # --- hosted invoice page ---------------------------------------------------------------------------
    async def invoice_page(request: Request) -> Response:
        """Stripe's hosted invoice page: the amount, and a Pay button (with the 3-D Secure step when the
        payment intent requires action). A form POST pays; ``authenticate=fail`` abandons the challenge."""
        invoice_id = request.path_params["invoice_id"]
        form = {k: str(v) for k, v in (await request.form()).items()} if request.method == "POST" else {}

        def show() -> Response:
            with fake.lock:
                invoice = fake.invoices.get(invoice_id)
                if invoice is None or invoice["hosted_invoice_url"] is None:
                    return message_page("Something went wrong", "This invoice could not be found.", 404)
                amount = money(invoice["amount_due"], invoice["currency"])
                if request.method == "POST":
                    try:
                        fake.pay_hosted_invoice(invoice_id, authenticate=form.get("authenticate") != "fail")
                    except PaymentDeclined as exc:
                        return message_page("Payment not completed", exc.message, 402)
                    except StripeError as exc:
                        return message_page("This invoice cannot be paid", exc.message, 400)
                    return message_page("Invoice paid", f"Invoice {invoice['number']}: {amount} paid. Thank you.")
                if invoice["status"] != "open":
                    return message_page(
                        f"Invoice {invoice['number']}",
                        f"{amount}, {invoice['status']}. This invoice is {invoice['status']}. {fake.account_name}.",
                    )
                step = (
                    "Your bank asks you to confirm this payment (3-D Secure)."
                    if fake.invoice_requires_action(invoice_id)
                    else "Pay this invoice with the card on file."
                )
                html = (
                    f'<!doctype html><title>Invoice {invoice["number"]}</title><h1 id="heading">Invoice '
                    f'{invoice["number"]}</h1><p id="amount">{amount} due</p><p id="message">{step}</p>'
                    f'<form method="post" action="/i/{invoice_id}"><input type="hidden" name="authenticate" '
                    f'value="complete"><button id="pay" type="submit">Complete payment</button></form>'
                )
                return HTMLResponse(html)

        return await run_in_threadpool(show)

    async def index(request: Request) -> Response:
        return message_page("Fake Stripe", "A stand-in for the Stripe API, for tests. See tests/fakestripe/README.md.")

    routes = [
        Route("/", index),
        Route("/v1/{rest:path}", api, methods=["GET", "POST", "DELETE"]),
        Route("/c/pay/{session_id}", checkout_page, methods=["GET"]),
        Route("/c/pay/{session_id}", checkout_submit, methods=["POST"]),
        Route("/i/{invoice_id}", invoice_page, methods=["GET", "POST"]),
        Route("/p/session/{secret}", portal_page, methods=["GET"]),
        Route("/p/session/{secret}/subscriptions/{sub_id}/{action}", portal_action, methods=["POST"]),
        Route("/i/{invoice_id}/pdf", invoice_pdf, methods=["GET"]),
        Route("/_fake/{name}", control, methods=["GET", "POST"]),
        Route("/_fake/{ident}/{name}", control, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)


def _check_card_form(form: dict[str, str]) -> None:
    """The hosted page's own checks of expiry and CVC before "charging" (the number is checked by the fake)."""
    expiry = form.get("card_expiry", "").replace(" ", "")
    month_text, _, year_text = expiry.partition("/")
    if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)):
        raise PaymentDeclined("incomplete_expiry", "Your card's expiration date is incomplete.")
    month, year = int(month_text), int(year_text) + (2000 if len(year_text) == 2 else 0)
    now = datetime.now(UTC)
    if not 1 <= month <= 12:
        raise PaymentDeclined("invalid_expiry_month", "Your card's expiration month is invalid.")
    if (year, month) < (now.year, now.month):
        raise PaymentDeclined("invalid_expiry_year_past", "Your card's expiration year is in the past.")
    cvc = form.get("card_cvc", "").strip()
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        raise PaymentDeclined("incomplete_cvc", "Your card's security code is incomplete.")


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (what the invoice's ``invoice_pdf`` link downloads)."""
    safe = text.encode("latin-1", "replace").replace(b"\\", b"").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 14 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n"
    out += str(xref).encode() + b"\n%%EOF\n"
    return out
