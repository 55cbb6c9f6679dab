"""What a load balancer and Prometheus ask each app server: up, ready, and how it is doing."""
from __future__ import annotations

import pytest

from tests.builders import hold_seats, make_event, make_venue


def test_healthz_answers_while_the_process_is_up_and_sets_no_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in response.headers


def test_readyz_says_both_databases_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "database ok\nreports ok\n"
    assert "Set-Cookie" not in response.headers


def test_metrics_count_requests_and_read_the_business_figures(client, db_session):
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=4))
    hold_seats(db_session, event, event.seat_ids("A1", "A2"))
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'boxoffice_http_request_duration_seconds_count{endpoint="operations.healthz",method="GET",status="2xx"}' in text
    held = next(line for line in text.splitlines() if line.startswith("boxoffice_live_held_seats "))
    assert float(held.split()[1]) >= 2
    for figure in ("boxoffice_bookings ", 'boxoffice_reconciler_backlog{kind="payment_attempt"}',
                   'boxoffice_outbox_messages{state="waiting"}'):
        assert figure in text


@pytest.mark.parametrize("headers, status", [({}, 403), ({"Authorization": "Bearer wrong"}, 403),
                                             ({"Authorization": "Bearer s3cret"}, 200)])
def test_metrics_from_elsewhere_need_the_token(app, client, headers, status):
    app.config["METRICS_TOKEN"] = "s3cret"
    try:
        answer = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    finally:
        app.config["METRICS_TOKEN"] = None
    assert answer.status_code == status


def test_metrics_are_not_for_anyone_else_without_a_token(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
