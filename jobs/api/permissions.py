"""Who may call an API view: a user, or (PHOTOPIPE_ANONYMOUS=by-id) anyone for a few actions.

What a caller may see is the queryset's business (jobs.selectors.jobs_visible_to): another
user's job is absent, so it answers 404, never a 403 that would confirm it exists.
"""

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # DRF's views import the permission settings: no cycle at run time
    from rest_framework.request import Request
    from rest_framework.views import APIView

ANONYMOUS_OFF = "off"
ANONYMOUS_BY_ID = "by-id"
ANONYMOUS_MODES = (ANONYMOUS_OFF, ANONYMOUS_BY_ID)


class UserOrAnonymousById(BasePermission):
    """Any authenticated user; anonymous clients only in by-id mode and only for the actions
    the view lists in `anonymous_actions` (view actions, or lower-case HTTP methods for a
    plain APIView). A view without that attribute is for users only.
    """

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if request.user and request.user.is_authenticated:
            return True
        # Anything but "by-id" (jobs.checks refuses other values at start-up) means off.
        if settings.PHOTOPIPE_ANONYMOUS != ANONYMOUS_BY_ID:
            return False
        action = getattr(view, "action", None) or request.method.lower()
        return action in getattr(view, "anonymous_actions", frozenset())
