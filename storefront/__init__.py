"""The public storefront: catalogue, event pages and seat maps, checkout, and the customer's account."""
from . import account, checkout, views  # noqa: F401  (each module adds its routes to bp)
from .blueprint import bp

__all__ = ["bp"]
