"""The payment provider's webhooks: POST /webhooks/stripe (CSRF-exempt; the signature is the check)."""
from .views import bp

__all__ = ["bp"]
