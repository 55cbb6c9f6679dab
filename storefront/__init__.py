"""The public storefront: catalogue, event pages and seat maps, checkout, and the customer's account."""
from . import account, checkout, orders, seat_map_cache, views, waiting_list, waiting_room  # noqa: F401  (each module adds its routes to bp)
from .blueprint import bp

bp.record_once(lambda state: seat_map_cache.init_app(state.app))

__all__ = ["bp"]
