"""Runs localstripe (a stateful fake Stripe server) for the tests, its state in a file of the run's own.

localstripe keeps its objects in /tmp/localstripe.pickle, one file for every copy on the machine; here
LOCALSTRIPE_STATE names this run's file instead, so a restarted server (the tests stop and start it to
take the provider away) comes back with the customers, cards and payments it had, and nothing else's.

Its mock of Stripe.js is served inside a function of its own: as shipped it declares `class Element` at
the top level of a classic script, which shadows the DOM's Element for every script of the page, and so
breaks htmx (whose `instanceof Element` checks then fail: boosted forms lose their element). Real
Stripe.js declares no such globals.
Usage: python tests/localstripe_server.py --port N [--from-scratch]
"""
import os
import pickle
import threading
import time

from aiohttp import web
from localstripe import resources, server

STATE = os.environ["LOCALSTRIPE_STATE"]


def _load(store) -> None:
    try:
        with open(STATE, "rb") as saved:
            old = pickle.load(saved)
    except FileNotFoundError:
        return
    store.clear()
    store.update(old)


def _dump(store) -> None:
    with open(STATE, "wb") as saved:
        pickle.dump(store, saved, protocol=pickle.HIGHEST_PROTOCOL)


resources.Store.try_load_from_disk = _load
resources.Store.dump_to_disk = _dump


@web.middleware
async def _mock_in_a_function(request, handler):
    response = await handler(request)
    if request.path == "/js.stripe.com/v3/" and response.status == 200:
        return web.Response(text="(function () {\n" + response.text + "\n}());",
                            content_type="application/javascript")
    return response


server.app.middlewares.append(_mock_in_a_function)

def _die_with_the_tests(parent: int) -> None:
    """A test run that is killed never stops its localstripe: it stops itself once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=_die_with_the_tests, args=(os.getppid(),), daemon=True).start()
    server.start()
