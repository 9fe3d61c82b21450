"""The caller's own account: the secret their webhooks are signed with."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.webhook_models import WebhookSecret


class WebhookSecretSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSecret
        fields = ["secret", "created_at"]
        read_only_fields = fields


def _secret_response(secret: WebhookSecret) -> Response:
    # A credential: no cache (browser or proxy) may keep a copy.
    return Response(WebhookSecretSerializer(secret).data, headers={"Cache-Control": "no-store"})


class WebhookSecretView(APIView):
    """Your webhook signing secret (Standard Webhooks, `whsec_…`); made on first use."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: WebhookSecretSerializer})
    def get(self, request: Request) -> Response:
        return _secret_response(WebhookSecret.for_user(request.user))


class WebhookSecretRotateView(APIView):
    """Replace your webhook secret: deliveries from now on are signed with the new one only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: WebhookSecretSerializer})
    def post(self, request: Request) -> Response:
        return _secret_response(WebhookSecret.rotate(request.user))
