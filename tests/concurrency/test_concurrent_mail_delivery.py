"""Several delivery passes at the same moment (the job runner on several web workers, a cron job besides):
each message is sent once, because a pass claims what it sends (one conditional UPDATE a message: its try
counted, its next attempt moved past the claim) before it talks to the SMTP server; and the passes never
deadlock each other."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from boxoffice.clock import utcnow
from boxoffice.extensions import db
from boxoffice.models import OutboxEmail
from boxoffice.services import mail
from tests.builders import committed, rows
from tests.concurrency.harness import assert_no_faults, at_once

pytestmark = pytest.mark.concurrency

MESSAGES = 20


def outbox_of(c, count: int) -> list[int]:
    """`count` composed messages, committed: their email_ids."""
    c.execute(sa.insert(OutboxEmail), [{"kind": "message", "recipient": f"race-{i}@example.test",
                                        "subject": f"Race {i}", "body_text": "Hello.", "created_at": utcnow()}
                                       for i in range(count)])
    return [email_id for (email_id,) in rows(c, "SELECT email_id FROM outbox_emails ORDER BY email_id DESC LIMIT :n",
                                             n=count)]


def sent_ids(smtp_server) -> Counter:
    return Counter(int(message["Message-ID"].split(".")[1].split("@")[0]) for message in smtp_server.messages)


@pytest.mark.parametrize("passes", [2, 4])
def test_delivery_passes_running_at_once_send_each_message_once(app, owner_engine, smtp_server, passes):
    with committed(owner_engine) as c:
        ids = outbox_of(c, MESSAGES)
        # Each pass takes a few, so that they race for the same rows; what none of them got goes out with
        # the next pass.
        outcomes = at_once(app, passes, lambda client, _: mail.deliver_due(limit=MESSAGES // passes))
        assert_no_faults(outcomes)
        assert sum(outcome.value.sent for outcome in outcomes) == len(smtp_server.messages)
        with app.app_context():
            mail.deliver_due()
        sent = sent_ids(smtp_server)
        assert {email_id: sent[email_id] for email_id in ids} == {email_id: 1 for email_id in ids}
        assert rows(c, "SELECT DISTINCT status FROM outbox_emails WHERE email_id IN :ids", ids=ids) == [("sent",)]


def unclaimed_due(limit: int, now, both_have_read: threading.Barrier) -> list:
    """What a pass would send if it only read what is due, without claiming it."""
    found = db.session.execute(
        sa.select(OutboxEmail.email_id, OutboxEmail.recipient, OutboxEmail.subject, OutboxEmail.body_text,
                  OutboxEmail.tries).where(mail._due(now)).order_by(OutboxEmail.email_id).limit(limit)).all()
    both_have_read.wait(10)
    return [mail._Claimed(r.email_id, r.recipient, r.subject, r.body_text, r.tries + 1) for r in found]


def test_control_passes_that_do_not_claim_send_a_message_twice(app, owner_engine, smtp_server, monkeypatch):
    """The race is real: passes that read what is due without claiming it both send it, and the check
    above would catch it."""
    both_have_read = threading.Barrier(2)
    monkeypatch.setattr(mail, "_claim_due", lambda limit, now: unclaimed_due(limit, now, both_have_read))
    with committed(owner_engine) as c:
        [email_id] = outbox_of(c, 1)
        outcomes = at_once(app, 2, lambda client, _: mail.deliver_due())
        assert_no_faults(outcomes)
        assert sent_ids(smtp_server)[email_id] == 2
